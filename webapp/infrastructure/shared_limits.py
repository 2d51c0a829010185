"""Rate-limit counters in the database: one number for every worker and app server.

A ``limits`` storage (the library under Flask-Limiter and the services' RateLimiter),
registered as ``webapp+db://``, with fixed windows: a counter row holds a count and
the moment its window ends; one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``
counts a hit and answers the new count atomically, so parallel workers cannot both
take the last unit of a budget.

- On PostgreSQL the rows live in the application database (table ``rate_counters``,
  migration 0006), written on a connection of their own in autocommit: a counter is
  kept whether or not the request's transaction commits (a failed login is counted
  though its request rolls back).
- On SQLite they live in a file beside the database (``app.db`` -> ``app.db-limits``):
  SQLite has one writer at a time, and a request that holds the database's write lock
  while counting would wait for itself. Every worker of the machine opens the same file.

Expired rows are deleted now and then by the writes themselves.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from threading import Lock
from typing import Any

from limits.storage import Storage
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from webapp.infrastructure.autocommit import autocommit_connection
from webapp.infrastructure.orm import RateCounterRow

log = logging.getLogger(__name__)
SCHEME = "webapp+db"
CLEAN_EVERY = 1000  # writes between two deletions of expired rows (per process)

_INCR = """
INSERT INTO rate_counters (key, count, expires_at) VALUES (:key, :amount, :expires)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN rate_counters.expires_at <= :now THEN :amount
                 ELSE rate_counters.count + :amount END,
    expires_at = CASE WHEN rate_counters.expires_at <= :now THEN :expires
                      ELSE rate_counters.expires_at END
RETURNING count"""
# A unit given back (a request refused by another window of its budget): never below 0,
# never into a window that has ended meanwhile.
_DECR = ("UPDATE rate_counters SET count = count - :amount "
         "WHERE key = :key AND expires_at > :now AND count >= :amount")
_GET = "SELECT count, expires_at FROM rate_counters WHERE key = :key AND expires_at > :now"
_CLEAN = "DELETE FROM rate_counters WHERE expires_at <= :now"
_PLACEHOLDER = re.compile(r"(?<!:):(\w+)")  # :name -> %(name)s for psycopg


class DatabaseStorage(Storage):
    """``limits`` storage on a SQLAlchemy engine (given as a callable: resolved on use)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False,
                 **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self._engine: Callable[[], Engine] = options["engine"]
        self._writes = 0
        self._lock = Lock()

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            self._writes += 1
            clean = self._writes % CLEAN_EVERY == 0
        if clean:
            self._execute(_CLEAN, {"now": now})
        [(count,)] = self._execute(_INCR, {"key": key[:200], "amount": amount, "now": now,
                                           "expires": now + expiry})
        return int(count)

    def decr(self, key: str, amount: int = 1) -> None:
        self._execute(_DECR, {"key": key[:200], "amount": amount, "now": time.time()})

    def get(self, key: str) -> int:
        row = self._row(key)
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return float(row[1]) if row else time.time()

    def check(self) -> bool:
        try:
            self._execute("SELECT count(*) FROM rate_counters WHERE 1 = 0", {})
        except Exception:  # noqa: BLE001 - any failure means the storage is not usable
            return False
        return True

    def reset(self) -> int | None:
        self._execute("DELETE FROM rate_counters", {})
        return None

    def clear(self, key: str) -> None:
        self._execute("DELETE FROM rate_counters WHERE key = :key", {"key": key[:200]})

    def _row(self, key: str) -> Any:
        rows = self._execute(_GET, {"key": key[:200], "now": time.time()})
        return rows[0] if rows else None

    def _execute(self, sql: str, params: dict[str, Any]) -> list[Any]:
        """One statement, its own transaction. On PostgreSQL a pooled psycopg connection
        in autocommit (one round trip, as readers.py does); on SQLite, SQLAlchemy."""
        engine = self._engine()
        if engine.dialect.name == "postgresql":
            with autocommit_connection(engine) as connection:
                cursor = connection.execute(_PLACEHOLDER.sub(r"%(\1)s", sql), params)
                return cursor.fetchall() if cursor.description else []
        with engine.begin() as connection:
            result = connection.execute(text(sql), params)
            return list(result) if result.returns_rows else []


def counters_engine(database_url: str, main: Callable[[], Engine],
                    lock_timeout_ms: int) -> tuple[Callable[[], Engine], str] | None:
    """Where the counters live, and its name for the start-up log: the application's
    PostgreSQL database, a SQLite file beside the application's, or None (an in-memory
    SQLite database: no file for the workers to share)."""
    if database_url.startswith("postgresql"):
        return main, "the PostgreSQL database (table rate_counters)"
    path = database_url.split("///", 1)[1].split("?", 1)[0] if "///" in database_url else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    from webapp.infrastructure.uow import tune_sqlite

    engine = create_engine(f"sqlite:///{path}-limits",
                           connect_args={"timeout": lock_timeout_ms / 1000})
    tune_sqlite(engine, lock_timeout_ms)
    created: list[bool] = []

    def get() -> Engine:
        if not created:  # once per process, on first use (not at import or start-up)
            RateCounterRow.__table__.create(engine, checkfirst=True)
            created.append(True)
        return engine

    return get, f"the SQLite file {Path(path).name}-limits beside the database"


def limiter_config(redis_url: str, counters: tuple[Callable[[], Engine], str] | None
                   ) -> tuple[dict[str, Any], str]:
    """Flask-Limiter's settings for the per-client-address limits, and where they count.

    Redis when ``REDIS_URL`` is set (moving windows; while it is down each worker counts
    in its own memory instead: those limits loosen, never vanish); else the database
    counters (fixed windows) that every worker shares; else, with no file to share, this
    process's memory.
    """
    if redis_url:
        return ({"RATELIMIT_STORAGE_URI": redis_url, "RATELIMIT_STRATEGY": "moving-window",
                 "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True},
                "Redis (each worker's memory while Redis is down)")
    if counters is not None:
        return ({"RATELIMIT_STORAGE_URI": f"{SCHEME}://",
                 "RATELIMIT_STORAGE_OPTIONS": {"engine": counters[0]},
                 "RATELIMIT_STRATEGY": "fixed-window"}, counters[1])
    return ({"RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_STRATEGY": "moving-window"},
            "this process's memory (an in-memory database: nothing to share)")
