"""The user's row outside the ORM: which columns make a ``User``, and the SELECT of them
by one column. The repositories run it through SQLAlchemy (repositories.py); the fast
paths that read users with the driver itself compile it once for their dialect:
PostgreSQL's per-request reads and login (readers.py, logins.py) and SQLite's login
(sqlite_logins.py); each turns the driver's row into a ``User`` itself (the drivers give
timestamps and booleans differently)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import Boolean, Select, bindparam, select
from sqlalchemy.engine import Dialect

from webapp.domain.model import User
from webapp.infrastructure.orm import UserRow, UTCDateTime

USER_FIELDS = [f.name for f in dataclasses.fields(User)]
_COLUMNS = UserRow.__table__.c
DATETIME_FIELDS = frozenset(name for name in USER_FIELDS
                            if isinstance(_COLUMNS[name].type, UTCDateTime))
BOOLEAN_FIELDS = frozenset(name for name in USER_FIELDS
                           if isinstance(_COLUMNS[name].type, Boolean))


def user_by(column: str) -> Select:
    """SELECT <every User field> FROM users WHERE users.<column> = <one parameter named
    ``value``>: the statement (the repositories run it through SQLAlchemy)."""
    return (select(*(_COLUMNS[name] for name in USER_FIELDS))
            .where(_COLUMNS[column] == bindparam("value")))


def select_user_by(column: str, dialect: Dialect) -> str:
    """``user_by(column)`` in ``dialect``'s SQL and parameter style, for the driver."""
    return str(user_by(column).compile(dialect=dialect))
