"""PostgreSQL's announcements of changed user rows, for the user cache (user_cache.py).

Triggers on ``users`` (AFTER UPDATE and AFTER DELETE, for each row; AFTER TRUNCATE) call
``pg_notify`` with the row's id (``*`` for a TRUNCATE). NOTIFY is transactional: the
announcement goes out when the writing transaction commits, never for a rollback.
The models (orm.py, for ``create_all``) and migrations 0004 and 0005 install the same
triggers.

An UPDATE that changes nothing but ``last_login_at`` (every login sets it) is not
announced: nothing served from the cache shows it (the checks read the account's state
and session version; the profile has no last login; a service that writes reads the row
again under a lock), and every announcement wakes every listening worker of every
server. Any other column, including ones added later, is announced when it changes.

Each worker process owns one dedicated connection (autocommit, TCP keepalives) that
LISTENs; it is opened lazily by the process that uses it, and confirms at connect time
that the trigger is installed and enabled and that the session hears its own NOTIFY
(not so behind a transaction-mode pooler): otherwise the cache stays off.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import DDL, Engine, Table, event

CHANNEL = "webapp_user_changed"
HELLO = "hello "  # a listener's proof that it hears the channel; not a change
FUNCTION = "webapp_notify_user_change"
ROW_TRIGGER = "users_notify_change"
DELETE_TRIGGER = "users_notify_delete"
TRUNCATE_TRIGGER = "users_notify_truncate"
TRIGGERS = (ROW_TRIGGER, DELETE_TRIGGER, TRUNCATE_TRIGGER)
QUIET_COLUMNS = ("last_login_at",)  # changes to these alone are not announced

CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('{CHANNEL}', '*');
    ELSE
        PERFORM pg_notify('{CHANNEL}', OLD.id::text);
    END IF;
    RETURN NULL;
END
$$"""
_QUIET = "'{" + ",".join(QUIET_COLUMNS) + "}'::text[]"
CREATE_ROW_TRIGGER = (f"CREATE TRIGGER {ROW_TRIGGER} AFTER UPDATE ON users FOR EACH ROW "
                      f"WHEN ((to_jsonb(OLD) - {_QUIET}) IS DISTINCT FROM "
                      f"(to_jsonb(NEW) - {_QUIET})) EXECUTE FUNCTION {FUNCTION}()")
CREATE_DELETE_TRIGGER = (f"CREATE TRIGGER {DELETE_TRIGGER} AFTER DELETE ON users "
                         f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()")
CREATE_TRUNCATE_TRIGGER = (f"CREATE TRIGGER {TRUNCATE_TRIGGER} AFTER TRUNCATE ON users "
                           f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")
TRIGGERS_ENABLED = (
    "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'users'::regclass AND "
    "tgname = ANY(%s) AND tgenabled IN ('O', 'A')")

# A dead server or network path is noticed within about 25 s without any traffic (and
# no cache entry outlives its maximum age anyway).
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
              "keepalives_count": 3, "connect_timeout": 5}


def install_trigger_with(table: Table) -> None:
    """``create_all`` on PostgreSQL installs the triggers too (as the migrations do)."""
    for statement in (CREATE_FUNCTION, CREATE_ROW_TRIGGER, CREATE_DELETE_TRIGGER,
                      CREATE_TRUNCATE_TRIGGER):
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="postgresql"))


class FeedUnavailable(RuntimeError):
    pass


class PostgresUserFeed:
    """The LISTENing connection of one process (see user_cache.ChangeFeed)."""

    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine
        self._connection: Any = None
        self._pid = 0
        self._lost = False
        self._watched: set[int] = set()

    def connect(self) -> None:
        import psycopg

        self.close()
        engine = self._engine()
        self._close_when_disposed(engine)
        args, params = engine.dialect.create_connect_args(engine.url)
        connection = psycopg.connect(*args, **{**params, **KEEPALIVES}, autocommit=True)
        try:
            connection.add_notice_handler(self._notice)
            connection.execute(f"LISTEN {CHANNEL}")
            row = connection.execute(TRIGGERS_ENABLED, (list(TRIGGERS),)).fetchone()
            if row is None or row[0] != len(TRIGGERS):
                raise FeedUnavailable(f"a trigger of {', '.join(TRIGGERS)} on users is "
                                      "missing or disabled (run flask db upgrade)")
            _hear_own_hello(connection)
        except BaseException:
            connection.close()
            raise
        self._lost = False
        self._connection, self._pid = connection, os.getpid()

    @property
    def backend_pid(self) -> int | None:
        """The server process that listens for this process (None: not connected)."""
        connection = self._connection
        return connection.info.backend_pid if connection is not None else None

    def _notice(self, diagnostic: Any) -> None:
        # The server ending this session (e.g. pg_terminate_backend) says so before the
        # socket closes: count the connection as lost from that message on.
        if diagnostic.severity_nonlocalized in ("FATAL", "PANIC"):
            self._lost = True

    def drain(self) -> list[str] | None:
        import psycopg

        connection = self._connection
        if connection is None or self._pid != os.getpid():
            return None
        pgconn = connection.pgconn
        try:
            pgconn.consume_input()  # reads what the socket holds; never waits
            payloads = []
            while (notify := pgconn.notifies()) is not None:
                payload = notify.extra.decode()
                if not payload.startswith(HELLO):
                    payloads.append(payload)
        except psycopg.Error:
            return None
        if self._lost or pgconn.status != psycopg.pq.ConnStatus.OK:
            return None
        return payloads

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._pid != os.getpid():
            _detach(connection)
        with contextlib.suppress(Exception):
            connection.close()

    def forget(self) -> None:
        """In a forked child: ``close`` detaches a connection another process opened."""
        self.close()

    def _close_when_disposed(self, engine: Engine) -> None:
        """Engine.dispose() (tests, shutdown) closes this connection too."""
        if id(engine) not in self._watched:
            self._watched.add(id(engine))
            event.listen(engine, "engine_disposed", lambda _engine: self.close())

    def __del__(self) -> None:
        self.close()


def _hear_own_hello(connection: Any) -> None:
    """Proof that this session receives what is announced on the channel: a connection
    pooler in transaction mode (PgBouncer's default) accepts LISTEN but would deliver
    nothing, and the cache must not run on such a connection."""
    hello = f"{HELLO}{os.getpid()} {secrets.token_hex(8)}"
    heard: list[str] = []
    handler = lambda notify: heard.append(notify.payload)  # noqa: E731
    connection.add_notify_handler(handler)
    try:
        # PostgreSQL hands a listener its own notification before the statement's end.
        connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, hello))
    finally:
        connection.remove_notify_handler(handler)
    if hello not in heard:
        raise FeedUnavailable("this connection does not receive its own NOTIFY on "
                              f"{CHANNEL} (behind a transaction-mode pooler?)")


def _detach(connection: Any) -> None:
    """Point the inherited socket at /dev/null: closing it then cannot end the session
    that the parent process still uses (libpq says goodbye on close)."""
    with contextlib.suppress(Exception):
        null = os.open(os.devnull, os.O_RDWR)
        try:
            os.dup2(null, connection.pgconn.socket)
        finally:
            os.close(null)
