"""The reads made on every authenticated request, kept to one round trip.

Checking an access token or a browser session needs the user's row (is it
active? is the session version still current? and /me returns the profile).
Inside a unit of work that row costs an ORM session, BEGIN, the SELECT and a
ROLLBACK. Here it is a single prepared SELECT on a pooled connection in
autocommit mode: nothing is written, so no transaction is needed.
PostgreSQL only (see bootstrap); SQLite keeps the unit of work and its BEGIN IMMEDIATE.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from sqlalchemy import Connection, Engine, bindparam, select

from webapp.domain.model import User
from webapp.infrastructure.orm import UserRow

_FIELDS = [f.name for f in dataclasses.fields(User)]
_USER_BY_ID = select(*(UserRow.__table__.c[name] for name in _FIELDS)).where(
    UserRow.__table__.c.id == bindparam("user_id"))


class CoreUserReader:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, user_id: int) -> User | None:
        row = self._connection.execute(_USER_BY_ID, {"user_id": user_id}).first()
        return User(**row._mapping) if row is not None else None


class SqlReadOnlyUnitOfWork:
    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine

    def __enter__(self) -> SqlReadOnlyUnitOfWork:
        self._connection = self._engine().connect().execution_options(
            isolation_level="AUTOCOMMIT")
        self.users = CoreUserReader(self._connection)
        return self

    def __exit__(self, *exc: object) -> None:
        self._connection.close()
