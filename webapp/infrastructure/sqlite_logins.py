"""The LoginStore on SQLite: the same two steps as PostgreSQL's (logins.py), on the
pool's own sqlite3 connection.

1. The account is read by one SELECT outside any transaction (SQLite reads a snapshot
   for the statement and takes no lock that writers wait for): nothing is held across
   the ~20 ms password hash that follows.
2. The login is written in one short ``BEGIN IMMEDIATE`` transaction: the UPDATE of the
   user guarded by what the password was checked against (still active, same
   uniquifier, same password hash, same second factors), then, only if it matched,
   the refresh family, the device and the audit event.

The ORM unit of work (``UnitOfWorkLogins`` in application/signin.py, the reference for
what both stores do) spends several times the CPU of these statements on this path:
a session, a flush per repository call, an identity map. Errors are SQLAlchemy's, as
from the unit of work, so a locked or read-only database is a 503 here too.

Datetimes are stored as SQLAlchemy stores them in SQLite (naive UTC,
``YYYY-MM-DD HH:MM:SS.ffffff``): the ORM reads these rows back, and sorts and compares
them as text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import DBAPIError

from webapp.application.interfaces import LoginRecorded, SuccessfulLogin
from webapp.domain.model import User
from webapp.domain.sessions import DeviceSeen, DeviceVisit
from webapp.domain.values import Email, Phone
from webapp.infrastructure.user_rows import (
    BOOLEAN_FIELDS,
    DATETIME_FIELDS,
    USER_FIELDS,
    select_user_by,
)

_USER_BY = {column: select_user_by(column, sqlite_dialect.dialect())
            for column in ("email", "phone")}
_LOGIN = ("UPDATE users SET last_login_at = ?, password_hash = ? WHERE id = ? AND is_active "
          "AND uniquifier = ? AND password_hash = ? AND mfa_version = ? RETURNING id")
_FAMILY = ("INSERT INTO refresh_families (id, user_id, created_at, generation, rotated_at, "
           "revoked_at, revoke_reason, user_agent, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_EVENT = ("INSERT INTO audit_events (kind, created_at, user_id, actor_id, ip, user_agent, "
          "request_id, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_DEVICE = "SELECT last_seen_at FROM known_devices WHERE user_id = ? AND key = ?"
_ANY_DEVICE = "SELECT 1 FROM known_devices WHERE user_id = ? LIMIT 1"
_ADD_DEVICE = ("INSERT INTO known_devices (user_id, key, first_seen_at, last_seen_at) "
               "VALUES (?, ?, ?, ?)")
_SEEN_DEVICE = "UPDATE known_devices SET last_seen_at = ? WHERE user_id = ? AND key = ?"


def stored(value: datetime | None) -> str | None:
    """An aware datetime as SQLAlchemy's SQLite DateTime stores it."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _parsed(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def user_from_sqlite_row(row: tuple[Any, ...]) -> User:
    values = dict(zip(USER_FIELDS, row, strict=True))
    for name in DATETIME_FIELDS:
        values[name] = _parsed(values[name])
    for name in BOOLEAN_FIELDS:
        values[name] = bool(values[name])
    return User(**values)


class SqliteLogins:
    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine

    def find_user(self, email: Email | None, phone: Phone | None) -> User | None:
        if email is not None:
            query, value = _USER_BY["email"], email.value
        elif phone is not None:
            query, value = _USER_BY["phone"], phone.value
        else:
            return None
        with self._connection() as connection:
            row = _run(connection, query, (value,)).fetchone()
        return user_from_sqlite_row(row) if row is not None else None

    def record(self, login: SuccessfulLogin) -> LoginRecorded | None:
        user, event, family = login.user, login.event, login.family
        with self._connection() as connection:
            _run(connection, "BEGIN IMMEDIATE")
            try:
                if _run(connection, _LOGIN, (
                        stored(user.last_login_at), user.password_hash, user.id,
                        user.uniquifier, login.verified_hash,
                        user.mfa_version)).fetchone() is None:
                    _run(connection, "ROLLBACK")
                    return None
                if family is not None:
                    _run(connection, _FAMILY, (
                        family.id, user.id, stored(family.created_at), family.generation,
                        stored(family.rotated_at), stored(family.revoked_at),
                        family.revoke_reason, family.user_agent, family.ip))
                seen = None if login.device is None else _see(connection, user.id or 0,
                                                              login.device)
                _run(connection, _EVENT, (
                    event.kind, stored(event.created_at), user.id, event.actor_id, event.ip,
                    event.user_agent, event.request_id, json.dumps(event.data)))
                _run(connection, "COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.rollback()
                raise
        return LoginRecorded(seen)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection (busy timeout, WAL, foreign keys: uow.tune_sqlite), in
        autocommit mode there: each statement outside BEGIN is a transaction of its own."""
        pooled = self._engine().raw_connection()
        try:
            yield pooled.driver_connection  # type: ignore[misc]
        finally:
            pooled.close()


def _see(connection: sqlite3.Connection, user_id: int, visit: DeviceVisit) -> DeviceSeen:
    """As ``_see_device`` in application/signin.py, in SQL (inside the login's write)."""
    row = _run(connection, _DEVICE, (user_id, visit.key)).fetchone()
    if row is None:
        had = _run(connection, _ANY_DEVICE, (user_id,)).fetchone() is not None
        at = stored(visit.at)
        _run(connection, _ADD_DEVICE, (user_id, visit.key, at, at))
        return DeviceSeen(visit, inserted=True, previous_seen_at=None, had_devices=had)
    previous = _parsed(row[0])
    assert previous is not None
    if visit.refreshes(previous):
        _run(connection, _SEEN_DEVICE, (stored(visit.at), user_id, visit.key))
    return DeviceSeen(visit, inserted=False, previous_seen_at=previous, had_devices=True)


def _run(connection: sqlite3.Connection, statement: str,
         parameters: tuple[Any, ...] = ()) -> sqlite3.Cursor:
    """``connection.execute``, its errors wrapped as SQLAlchemy wraps them (a locked or
    read-only database is then classified as such: webapp/infrastructure/db_faults.py)."""
    try:
        return connection.execute(statement, parameters)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(statement, parameters, exc, sqlite3.Error) from exc
