"""The reads made on every authenticated request, kept to one round trip.

Checking an access token or a browser session needs the user's row (is it
active? is the session version still current? and /me returns the profile).
Inside a unit of work that row costs an ORM session, BEGIN, the SELECT and a
ROLLBACK. Here it is a single prepared SELECT on a pooled connection in
autocommit mode: nothing is written, so no transaction is needed.
PostgreSQL only (see bootstrap); SQLite keeps the unit of work and its BEGIN IMMEDIATE.

The SELECT goes straight to the driver (psycopg) on the pool's connection: SQLAlchemy
Core's statement execution and result machinery cost more CPU than the query itself on
this path, which every bearer request takes. The connection is checked out from and
returned to SQLAlchemy's pool as usual (autocommit is switched back off before it is
returned, and a connection that failed is invalidated, not reused).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from webapp.domain.model import User
from webapp.infrastructure import user_rows
from webapp.infrastructure.autocommit import autocommit_connection


def select_user_by(column: str) -> str:
    """SELECT <every User field> FROM users WHERE users.<column> = %(value)s, compiled
    once by SQLAlchemy for psycopg."""
    return user_rows.select_user_by(column, psycopg_dialect.dialect())


_USER_BY_ID = select_user_by("id")


def user_from_row(row: tuple[Any, ...]) -> User:
    """The User of a row read by a ``select_user_by`` query."""
    values = dict(zip(user_rows.USER_FIELDS, row, strict=True))
    for name in user_rows.DATETIME_FIELDS:  # aware UTC, as the ORM's UTCDateTime gives them
        if values[name] is not None:
            values[name] = values[name].astimezone(UTC)
    return User(**values)


class CoreUserReader:
    def __init__(self, connection: Any) -> None:
        self._connection = connection  # a psycopg connection in autocommit mode

    def get(self, user_id: int) -> User | None:
        # Binary results: timestamps are not parsed from text (a good part of the read's CPU).
        with self._connection.cursor(binary=True) as cursor:
            row = cursor.execute(_USER_BY_ID, {"value": user_id}, prepare=True).fetchone()
        return user_from_row(row) if row is not None else None


class SqlReadOnlyUnitOfWork:
    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine

    def __enter__(self) -> SqlReadOnlyUnitOfWork:
        self._checkout = autocommit_connection(self._engine())
        self.users = CoreUserReader(self._checkout.__enter__())
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: Any) -> None:
        self._checkout.__exit__(kind, *exc)
