"""A pooled PostgreSQL connection in autocommit mode, for single-statement steps.

Each statement is its own transaction: no BEGIN/COMMIT round trips and no transaction
left open between steps. The connection is checked out from SQLAlchemy's pool and
given back with autocommit off (the pool's other users expect transactions); one
that failed is invalidated, not reused. Used by the per-request reads (readers.py) and
the login (logins.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine


@contextmanager
def autocommit_connection(engine: Engine) -> Iterator[Any]:
    """The psycopg connection itself: SQLAlchemy's statement machinery costs more CPU
    than these statements do."""
    pooled = engine.raw_connection()
    connection = pooled.driver_connection
    try:
        connection.autocommit = True  # client-side only in psycopg: no round trip
    except Exception:
        pooled.invalidate()
        raise
    try:
        yield connection
    finally:
        _give_back(pooled)


def _give_back(pooled: Any) -> None:
    connection = pooled.driver_connection
    if connection is None or connection.closed or connection.broken:
        pooled.invalidate()  # e.g. the database restarted: next checkout reconnects
        return
    try:
        connection.autocommit = False
    except Exception:
        pooled.invalidate()
        raise
    pooled.close()
