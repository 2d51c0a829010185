"""The per-request user checks on SQLite: served from the user cache, kept honest by
SQLite's own change counter, and read without the write lock on a miss.

Checking an access token or a browser session needs the user's row. Through the unit of
work that read would open ``BEGIN IMMEDIATE`` (see uow.py): the database's one write
lock, for a read, on every bearer request, so two workers' ``/me`` take turns.

- ``SqliteReadOnlyUnitOfWork``: the same ORM read in a deferred transaction (a snapshot,
  no lock that writers wait for).
- ``SqliteChangeFeed``: the ``ChangeFeed`` of webapp/infrastructure/user_cache.py that
  ``LISTEN/NOTIFY`` is on PostgreSQL. ``PRAGMA data_version`` on a connection of its own
  changes whenever any other connection, of any process, commits to the database file;
  asking costs a few microseconds and no I/O when nothing changed. It cannot say which
  user changed, so any commit empties the cache (a login's ``last_login_at`` too); a
  load that only reads (``/me``) is served from memory. The cache's own rules hold:
  nothing served before the baseline is read, this process's commits evict at once, a
  failing connection turns the cache off (every read goes to the database), entries age
  out after ``USER_CACHE_MAX_AGE``.

Not for an in-memory database (each connection sees its own): bootstrap wires neither.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from webapp.infrastructure.repositories import SqlUserRepository
from webapp.infrastructure.uow import DEFERRED_BEGIN
from webapp.infrastructure.user_cache import CLEAR_ALL

# Connections a forked child inherited: never used, never closed (closing would drop the
# parent's file locks); kept referenced so that garbage collection does not close them.
_INHERITED: list[sqlite3.Connection] = []


class SqliteReadOnlyUnitOfWork:
    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine

    def __enter__(self) -> SqliteReadOnlyUnitOfWork:
        self._session = Session(bind=self._engine().execution_options(**{DEFERRED_BEGIN: True}))
        self.users = SqlUserRepository(self._session)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._session.close()  # rolls the read back


class SqliteChangeFeed:
    def __init__(self, path: Callable[[], str]) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._version = 0

    def connect(self) -> None:
        connection = sqlite3.connect(self._path(), isolation_level=None,
                                     check_same_thread=False)  # used under the cache's lock
        try:
            self._version = _data_version(connection)
        except sqlite3.Error:
            connection.close()
            raise
        self._connection = connection

    def drain(self) -> list[str] | None:
        if self._connection is None:
            return None
        try:
            version = _data_version(self._connection)
        except sqlite3.Error:
            return None
        if version == self._version:
            return []
        self._version = version
        return [CLEAR_ALL]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def forget(self) -> None:
        if self._connection is not None:
            _INHERITED.append(self._connection)
            self._connection = None


def _data_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA data_version").fetchone()[0])
