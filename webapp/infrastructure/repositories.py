"""SQLAlchemy repositories: rows in, domain dataclasses out, saved back explicitly."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.application.interfaces import UniqueConflict
from webapp.domain.invitations import Invitation
from webapp.domain.model import AuditEvent, CodePurpose, OneTimeCode, RefreshFamily, User
from webapp.domain.sessions import KnownDevice
from webapp.infrastructure.orm import (
    AuditEventRow,
    InvitationRow,
    KnownDeviceRow,
    OneTimeCodeRow,
    RefreshFamilyRow,
    UserRow,
)
from webapp.infrastructure.user_rows import user_by

E = TypeVar("E")
R = TypeVar("R")


# Statements built once. Building one costs more than running it: SQLAlchemy finds the
# compiled form by the statement's cache key, which it computes once per statement object
# (a user look-up by address: 109 us with a statement built per call, 53 with one built
# once, 27 with Core). The values go in as parameters.
@functools.cache
def _insert_into(table: Any) -> Any:
    return insert(table)


@functools.cache
def _field_names(entity: type) -> tuple[str, ...]:
    """Once per entity class, not per repository: a unit of work makes eighteen."""
    return tuple(field.name for field in dataclasses.fields(entity))  # type: ignore[arg-type]


def _user_by(column: str) -> tuple[Any, Any]:
    """The one user whose ``column`` is the ``value`` parameter: read, and read to change
    (``FOR UPDATE`` on PostgreSQL). Core, on the session's connection (pending changes
    are flushed first, as for any statement it executes): the columns carry the User's
    field names, and no ORM object is built only to be copied out. Nor are the ORM's
    mappers configured for it: a worker that only signs in, checks tokens, registers and
    delivers email never configures them (about 1 MiB of RSS, measured with gunicorn)."""
    stmt = user_by(column).limit(1)
    return stmt, stmt.with_for_update()


_USER_BY = {"id": _user_by("id"), "email": _user_by("email"), "phone": _user_by("phone"),
            "customer": _user_by("stripe_customer_id")}


class _Mapped(Generic[E, R]):
    """Copies between a dataclass entity and the row whose columns carry its field names."""

    entity: type[E]
    row: type[R]
    enums: dict[str, type] = {}

    def __init__(self, session: Session) -> None:
        self.session = session
        self._names = _field_names(self.entity)

    def _to_entity(self, row: R) -> E:
        values: dict[str, Any] = {name: getattr(row, name) for name in self._names}
        for name, enum in self.enums.items():
            values[name] = enum(values[name])
        return self.entity(**values)

    def _copy(self, entity: E, row: R) -> R:
        for name in self._names:
            if name == "id" and getattr(entity, "id", None) is None:
                continue
            setattr(row, name, getattr(entity, name))
        return row

    def _flush(self) -> None:
        """A unique constraint refusing the change is the port's UniqueConflict, whether
        it fires here or at commit (PostgreSQL raises it here once the rival commits)."""
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise UniqueConflict(str(exc.orig)) from exc

    def _insert(self, entity: E) -> E:
        """One INSERT on the session's connection (Core: the ORM's unit of work costs
        about as much again per row, and nothing reads a new row back from the session).
        Changes still pending in the session go first: ``execute`` autoflushes."""
        values = {name: getattr(entity, name) for name in self._names}
        if values.get("id") is None:
            values.pop("id", None)
        try:
            result = self.session.execute(_insert_into(self.row.__table__), values)  # type: ignore[attr-defined]
        except IntegrityError as exc:
            raise UniqueConflict(str(exc.orig)) from exc
        entity.id = result.inserted_primary_key[0]  # type: ignore[attr-defined]
        return entity

    def _save(self, entity: E) -> None:
        row = self.session.get(self.row, entity.id)  # type: ignore[attr-defined]
        if row is None:
            raise LookupError(f"{self.row.__name__} {entity.id} is gone")  # type: ignore[attr-defined]
        self._copy(entity, row)
        self._flush()

    def _one(self, stmt: Any) -> E | None:
        row = self.session.scalars(stmt.limit(1)).first()
        return self._to_entity(row) if row is not None else None

    def _all(self, stmt: Any) -> list[E]:
        return [self._to_entity(row) for row in self.session.scalars(stmt)]


class SqlUserRepository(_Mapped[User, UserRow]):
    entity, row = User, UserRow

    def add(self, user: User) -> User:
        return self._insert(user)

    def save(self, user: User) -> None:
        self._save(user)

    def _by(self, key: str, value: object, lock: bool) -> User | None:
        row = self.session.execute(_USER_BY[key][lock], {"value": value}).first()
        return self._to_entity(row) if row is not None else None  # a Row reads by name too

    def get(self, user_id: int, *, lock: bool = False) -> User | None:
        return self._by("id", user_id, lock)

    def get_by_email(self, email: str, *, lock: bool = False) -> User | None:
        return self._by("email", email, lock)

    def get_by_phone(self, phone: str, *, lock: bool = False) -> User | None:
        return self._by("phone", phone, lock)

    def get_by_customer(self, customer_id: str, *, lock: bool = False) -> User | None:
        return self._by("customer", customer_id, lock)


class SqlCodeRepository(_Mapped[OneTimeCode, OneTimeCodeRow]):
    entity, row = OneTimeCode, OneTimeCodeRow
    enums = {"purpose": CodePurpose}

    def add(self, code: OneTimeCode) -> None:
        self._insert(code)

    def save(self, code: OneTimeCode) -> None:
        self._save(code)

    def latest(self, user_id: int, purposes: Sequence[CodePurpose]) -> OneTimeCode | None:
        return self._one(
            select(OneTimeCodeRow)
            .where(OneTimeCodeRow.user_id == user_id,
                   OneTimeCodeRow.purpose.in_([str(p) for p in purposes]))
            .order_by(OneTimeCodeRow.id.desc())
        )


class SqlRefreshFamilyRepository(_Mapped[RefreshFamily, RefreshFamilyRow]):
    entity, row = RefreshFamily, RefreshFamilyRow

    def add(self, family: RefreshFamily) -> None:
        self.session.add(self._copy(family, RefreshFamilyRow()))
        self._flush()

    def get(self, family_id: str) -> RefreshFamily | None:
        return self._one(select(RefreshFamilyRow).where(RefreshFamilyRow.id == family_id)
                         .execution_options(populate_existing=True))

    def rotate(self, family_id: str, from_generation: int, now: datetime, ip: str) -> bool:
        result = self.session.execute(
            update(RefreshFamilyRow)
            .where(RefreshFamilyRow.id == family_id,
                   RefreshFamilyRow.generation == from_generation,
                   RefreshFamilyRow.revoked_at.is_(None))
            .values(generation=from_generation + 1, rotated_at=now, ip=ip)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def revoke(self, family_id: str, now: datetime, reason: str) -> None:
        self.session.execute(
            update(RefreshFamilyRow)
            .where(RefreshFamilyRow.id == family_id, RefreshFamilyRow.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
            .execution_options(synchronize_session=False)
        )

    def revoke_all(self, user_id: int, now: datetime, reason: str) -> int:
        result = self.session.execute(
            update(RefreshFamilyRow)
            .where(RefreshFamilyRow.user_id == user_id, RefreshFamilyRow.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount

    def active_for_user(self, user_id: int) -> list[RefreshFamily]:
        return self._all(
            select(RefreshFamilyRow)
            .where(RefreshFamilyRow.user_id == user_id, RefreshFamilyRow.revoked_at.is_(None))
            .order_by(RefreshFamilyRow.created_at.desc())
        )


class SqlAuditRepository(_Mapped[AuditEvent, AuditEventRow]):
    entity, row = AuditEvent, AuditEventRow

    def add(self, event: AuditEvent) -> None:
        self._insert(event)

    def for_user(self, user_id: int, limit: int = 50) -> list[AuditEvent]:
        return self._all(select(AuditEventRow).where(AuditEventRow.user_id == user_id)
                         .order_by(AuditEventRow.id.desc()).limit(limit))

    def page(self, user_id: int, kinds: Sequence[str], offset: int, limit: int
             ) -> list[AuditEvent]:
        return self._all(select(AuditEventRow)
                         .where(AuditEventRow.user_id == user_id,
                                AuditEventRow.kind.in_(list(kinds)))
                         .order_by(AuditEventRow.id.desc()).offset(offset).limit(limit))


class SqlKnownDeviceRepository(_Mapped[KnownDevice, KnownDeviceRow]):
    entity, row = KnownDevice, KnownDeviceRow

    def get(self, user_id: int, key: str) -> KnownDevice | None:
        return self._one(select(KnownDeviceRow).where(KnownDeviceRow.user_id == user_id,
                                                      KnownDeviceRow.key == key))

    def has_any(self, user_id: int) -> bool:
        return self._one(select(KnownDeviceRow).where(KnownDeviceRow.user_id == user_id)
                         ) is not None

    def add(self, device: KnownDevice) -> None:
        self._insert(device)

    def save(self, device: KnownDevice) -> None:
        self._save(device)


class SqlInvitationRepository(_Mapped[Invitation, InvitationRow]):
    entity, row = Invitation, InvitationRow

    def add(self, invitation: Invitation) -> None:
        self._insert(invitation)

    def get(self, invitation_id: int) -> Invitation | None:
        row = self.session.get(InvitationRow, invitation_id, populate_existing=True)
        return self._to_entity(row) if row is not None else None

    def save(self, invitation: Invitation) -> None:
        self._save(invitation)
