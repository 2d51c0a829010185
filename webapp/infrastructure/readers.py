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

import dataclasses
from collections.abc import Callable
from datetime import UTC
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from webapp.domain.model import User
from webapp.infrastructure.orm import UserRow, UTCDateTime

_FIELDS = [f.name for f in dataclasses.fields(User)]
_COLUMNS = UserRow.__table__.c
_DATETIMES = frozenset(name for name in _FIELDS if isinstance(_COLUMNS[name].type, UTCDateTime))
# Compiled once by SQLAlchemy for psycopg: SELECT ... FROM users WHERE users.id = %(user_id)s
_USER_BY_ID = str(select(*(_COLUMNS[name] for name in _FIELDS))
                  .where(_COLUMNS.id == bindparam("user_id"))
                  .compile(dialect=psycopg_dialect.dialect()))


def _user(row: tuple[Any, ...]) -> User:
    values = dict(zip(_FIELDS, row, strict=True))
    for name in _DATETIMES:  # aware UTC, as the ORM's UTCDateTime gives them
        if values[name] is not None:
            values[name] = values[name].astimezone(UTC)
    return User(**values)


class CoreUserReader:
    def __init__(self, connection: Any) -> None:
        self._connection = connection  # a psycopg connection in autocommit mode

    def get(self, user_id: int) -> User | None:
        # Binary results: timestamps are not parsed from text (a good part of the read's CPU).
        with self._connection.cursor(binary=True) as cursor:
            row = cursor.execute(_USER_BY_ID, {"user_id": user_id}, prepare=True).fetchone()
        return _user(row) if row is not None else None


class SqlReadOnlyUnitOfWork:
    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine

    def __enter__(self) -> SqlReadOnlyUnitOfWork:
        self._pooled = self._engine().raw_connection()
        connection = self._pooled.driver_connection
        try:
            connection.autocommit = True  # client-side only in psycopg: no round trip
        except Exception:
            self._pooled.invalidate()
            raise
        self.users = CoreUserReader(connection)
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        connection = self._pooled.driver_connection
        if connection is None or connection.closed or connection.broken:
            self._pooled.invalidate()  # e.g. the database restarted: next checkout reconnects
            return
        try:
            connection.autocommit = False  # the pool's other users expect transactions
        except Exception:
            self._pooled.invalidate()
            raise
        self._pooled.close()
