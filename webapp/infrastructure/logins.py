"""The LoginStore on PostgreSQL: a login is two prepared statements and no transaction.

1. The account is read by email or phone with one prepared SELECT on a pooled
   connection in autocommit mode (as the per-request reads of readers.py): no
   transaction stays open across the ~20 ms password hash that follows.
2. The login is written by one statement: an UPDATE of the user guarded by what the
   password was checked against (still active, same uniquifier, same password
   hash, same second factors), and INSERTs of the refresh family, the device (an
   upsert: its last-seen time moves at most daily) and the audit event that take
   their rows from the UPDATE's RETURNING, so they happen only if the guard held.
   The same statement returns what the device's record was before (every part of
   it reads the snapshot from before its writes). One statement is atomic without
   BEGIN/COMMIT, and costs one round trip.

The ORM unit of work would spend more CPU than the database on this path (a flush
per repository call); SQLite and the fakes keep it (``UnitOfWorkLogins`` in
application/signin.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from webapp.application.interfaces import LoginRecorded, SuccessfulLogin
from webapp.domain.model import User
from webapp.domain.sessions import DeviceSeen
from webapp.domain.values import Email, Phone
from webapp.infrastructure.autocommit import autocommit_connection
from webapp.infrastructure.readers import select_user_by, user_from_row

_USER_BY_EMAIL = select_user_by("email")
_USER_BY_PHONE = select_user_by("phone")

# The family is inserted only for a token login (a browser login has none), the device
# only when the login tracks one. ``inserted``: this statement added the device (a racing
# sign-in's insert is not ours: (xmax = 0) holds only for a row this statement created).
_RECORD = """
WITH login AS (
    UPDATE users SET last_login_at = %(last_login_at)s, password_hash = %(password_hash)s
    WHERE id = %(user_id)s AND is_active AND uniquifier = %(uniquifier)s
      AND password_hash = %(verified_hash)s AND mfa_version = %(mfa_version)s
    RETURNING id
), family AS (
    INSERT INTO refresh_families (id, user_id, created_at, generation, rotated_at, revoked_at,
                                  revoke_reason, user_agent, ip)
    SELECT %(family_id)s, login.id, %(family_created_at)s, %(family_generation)s,
           %(family_rotated_at)s, %(family_revoked_at)s, %(family_revoke_reason)s,
           %(family_user_agent)s, %(family_ip)s
    FROM login WHERE %(with_family)s
), event AS (
    INSERT INTO audit_events (kind, created_at, user_id, actor_id, ip, user_agent,
                              request_id, data)
    SELECT %(kind)s, %(created_at)s, login.id, %(actor_id)s, %(ip)s, %(user_agent)s,
           %(request_id)s, %(data)s::json
    FROM login
), previous AS (
    SELECT last_seen_at FROM known_devices
    WHERE user_id = %(user_id)s AND key = %(device_key)s
), any_device AS (
    SELECT EXISTS (SELECT 1 FROM known_devices WHERE user_id = %(user_id)s) AS had
), device AS (
    INSERT INTO known_devices (user_id, key, first_seen_at, last_seen_at)
    SELECT login.id, %(device_key)s, %(device_at)s, %(device_at)s
    FROM login WHERE %(with_device)s
    ON CONFLICT (user_id, key) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
    WHERE known_devices.last_seen_at <= %(device_refresh_before)s
    RETURNING (xmax = 0) AS inserted
)
SELECT login.id, (SELECT inserted FROM device), (SELECT last_seen_at FROM previous),
       (SELECT had FROM any_device)
FROM login"""

_NO_DEVICE = dict.fromkeys(("device_key", "device_at", "device_refresh_before"))
_NO_FAMILY = dict.fromkeys(
    ("family_id", "family_created_at", "family_generation", "family_rotated_at",
     "family_revoked_at", "family_revoke_reason", "family_user_agent", "family_ip"))


def _parameters(login: SuccessfulLogin) -> dict[str, Any]:
    user, event, family = login.user, login.event, login.family
    parameters = {
        "user_id": user.id, "uniquifier": user.uniquifier, "verified_hash": login.verified_hash,
        "mfa_version": user.mfa_version,
        "last_login_at": user.last_login_at, "password_hash": user.password_hash,
        "kind": event.kind, "created_at": event.created_at, "actor_id": event.actor_id,
        "ip": event.ip, "user_agent": event.user_agent, "request_id": event.request_id,
        "data": json.dumps(event.data),
    }
    device = login.device
    if device is None:
        parameters.update(_NO_DEVICE, with_device=False)
    else:
        parameters.update(with_device=True, device_key=device.key, device_at=device.at,
                          device_refresh_before=device.refresh_before)
    if family is None:
        parameters.update(_NO_FAMILY, with_family=False)
    else:
        parameters.update({
            "with_family": True,
            "family_id": family.id, "family_created_at": family.created_at,
            "family_generation": family.generation, "family_rotated_at": family.rotated_at,
            "family_revoked_at": family.revoked_at,
            "family_revoke_reason": family.revoke_reason,
            "family_user_agent": family.user_agent, "family_ip": family.ip,
        })
    return parameters


class PostgresLogins:
    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine

    def find_user(self, email: Email | None, phone: Phone | None) -> User | None:
        if email is not None:
            query, value = _USER_BY_EMAIL, email.value
        elif phone is not None:
            query, value = _USER_BY_PHONE, phone.value
        else:
            return None
        # Binary results: timestamps are not parsed from text.
        with (autocommit_connection(self._engine()) as connection,
              connection.cursor(binary=True) as cursor):
            row = cursor.execute(query, {"value": value}, prepare=True).fetchone()
        return user_from_row(row) if row is not None else None

    def record(self, login: SuccessfulLogin) -> LoginRecorded | None:
        with autocommit_connection(self._engine()) as connection:
            row = connection.execute(_RECORD, _parameters(login), prepare=True).fetchone()
        if row is None:
            return None
        if login.device is None:
            return LoginRecorded()
        _, inserted, previous, had = row
        return LoginRecorded(DeviceSeen(login.device, inserted=bool(inserted),
                                        previous_seen_at=previous, had_devices=bool(had)))
