"""What a database error means for the caller: the database is unavailable, or a bug.

A read-only database, a lock held past the busy timeout, a refused connection or a
server restarting are the operator's to fix, not the client's fault and not a bug: the
request is answered ``503`` with ``Retry-After`` (see webapp/interface/errors.py), and
nothing is half-written, since the unit of work rolls the transaction back. Anything
else (a constraint broken in a way no use case expects, bad SQL) stays a 500.

``DatabaseFault.detail`` is for the operator (``/healthz`` and the log); clients get a
plain "try again" from the error handler.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class DatabaseFault:
    reason: str  # read_only, locked, unreachable, full, no_schema, conflict
    detail: str
    retry_after: int


READ_ONLY = DatabaseFault(
    "read_only", "The database refuses writes (it is read-only): check the database file's "
    "permissions and its file system (SQLite), or that DATABASE_URL points at the primary "
    "and default_transaction_read_only is off (PostgreSQL).", 30)
LOCKED = DatabaseFault(
    "locked", "The database stayed locked past the busy timeout (30 s on SQLite, "
    "lock_timeout on PostgreSQL): look for a long transaction, a migration or a backup "
    "holding a lock.", 5)
UNREACHABLE = DatabaseFault(
    "unreachable", "The database does not answer (connection refused, lost or restarting): "
    "check that it runs and that DATABASE_URL is right.", 5)
FULL = DatabaseFault(
    "full", "The database is out of space or connections: free disk space, or raise "
    "max_connections / lower the workers' pool size.", 30)
NO_SCHEMA = DatabaseFault(
    "no_schema", "The database lacks this release's tables: run "
    "`flask --app wsgi db upgrade`.", 30)
CONFLICT = DatabaseFault(
    "conflict", "A transaction was cancelled by a deadlock or serialization conflict.", 1)

# PostgreSQL SQLSTATE classes and codes (psycopg's ``sqlstate``).
_BY_SQLSTATE = {"25006": READ_ONLY, "55P03": LOCKED, "57014": LOCKED, "40001": CONFLICT,
                "40P01": CONFLICT, "53100": FULL, "53300": FULL, "42P01": NO_SCHEMA}
_BY_CLASS = {"08": UNREACHABLE, "57": UNREACHABLE, "53": FULL}
# SQLite says it in words (sqlite3 has no SQLSTATE).
_BY_MESSAGE = (("readonly database", READ_ONLY), ("read-only", READ_ONLY),
               ("database is locked", LOCKED), ("database table is locked", LOCKED),
               ("disk is full", FULL), ("unable to open database", UNREACHABLE),
               ("disk i/o error", UNREACHABLE), ("no such table", NO_SCHEMA))


class DatabaseRefusesWrites(SQLAlchemyError):
    """The writability check found the database read-only."""


def classify(exc: BaseException) -> DatabaseFault | None:
    """The fault ``exc`` reports, or None when it is not the database being unavailable."""
    if isinstance(exc, DatabaseRefusesWrites):
        return READ_ONLY
    if isinstance(exc, PoolTimeout):
        return FULL
    # SQLAlchemy wraps the driver's error; the fast paths raise psycopg's own.
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if not isinstance(exc, DBAPIError) and not type(orig).__module__.startswith("psycopg"):
        return None
    state = str(getattr(orig, "sqlstate", "") or "")
    if state in _BY_SQLSTATE or state[:2] in _BY_CLASS:
        return _BY_SQLSTATE.get(state) or _BY_CLASS[state[:2]]
    message = str(orig).lower()
    for words, fault in _BY_MESSAGE:
        if words in message:
            return fault
    if getattr(exc, "connection_invalidated", False) or isinstance(orig, OSError):
        return UNREACHABLE
    if type(orig).__module__.startswith("psycopg") and type(orig).__name__ in (
            "OperationalError", "InterfaceError"):
        return UNREACHABLE  # refused at connect, or closed by a restart (no SQLSTATE)
    return None


def check_writable(session: Session) -> None:
    """One statement that must take a write lock and changes nothing: refused by a
    read-only SQLite file or connection, a read-only or standby PostgreSQL."""
    try:
        session.execute(text("DELETE FROM users WHERE 1 = 0"))
    except DBAPIError as exc:
        if classify(exc) is READ_ONLY:
            raise DatabaseRefusesWrites(str(exc.orig)) from exc
        raise
