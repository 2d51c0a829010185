"""The user's row outside the ORM: which columns make a ``User``, and the SELECT of them
by one column, compiled once for a dialect. Shared by the fast paths that read users with
the driver itself: PostgreSQL's per-request reads and login (readers.py, logins.py) and
SQLite's login (sqlite_logins.py); each turns the driver's row into a ``User`` itself
(the drivers give timestamps and booleans differently)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import Boolean, bindparam, select
from sqlalchemy.engine import Dialect

from webapp.domain.model import User
from webapp.infrastructure.orm import UserRow, UTCDateTime

USER_FIELDS = [f.name for f in dataclasses.fields(User)]
_COLUMNS = UserRow.__table__.c
DATETIME_FIELDS = frozenset(name for name in USER_FIELDS
                            if isinstance(_COLUMNS[name].type, UTCDateTime))
BOOLEAN_FIELDS = frozenset(name for name in USER_FIELDS
                           if isinstance(_COLUMNS[name].type, Boolean))


def select_user_by(column: str, dialect: Dialect) -> str:
    """SELECT <every User field> FROM users WHERE users.<column> = <one parameter named
    ``value``>, in ``dialect``'s SQL and parameter style."""
    return str(select(*(_COLUMNS[name] for name in USER_FIELDS))
               .where(_COLUMNS[column] == bindparam("value"))
               .compile(dialect=dialect))
