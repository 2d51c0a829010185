"""SQLAlchemy repositories of the address-change, export and deletion flows."""

from __future__ import annotations

from sqlalchemy import Text, cast, delete, func, or_, select, update

from webapp.domain.address_change import AddressChange
from webapp.domain.invitations import Invitation
from webapp.domain.model import AuditEvent, MessageStatus, RefreshFamily
from webapp.domain.values import Channel
from webapp.infrastructure.orm import (
    AddressChangeRow,
    AuditEventRow,
    BillingEventRow,
    InvitationRow,
    OutboxRow,
    RefreshFamilyRow,
    UserRow,
)
from webapp.infrastructure.repositories import _Mapped

ERASED = "account erased"
# pg_advisory_xact_lock key of the active-staff count ("staf"), held until the commit.
STAFF_COUNT_LOCK = 0x73746166


class SqlAddressChangeRepository(_Mapped[AddressChange, AddressChangeRow]):
    entity, row = AddressChange, AddressChangeRow
    enums = {"channel": Channel}

    def add(self, change: AddressChange) -> None:
        self._insert(change)

    def get(self, change_id: int) -> AddressChange | None:
        row = self.session.get(AddressChangeRow, change_id, populate_existing=True)
        return self._to_entity(row) if row is not None else None

    def save(self, change: AddressChange) -> None:
        self._save(change)

    def for_user(self, user_id: int, channel: Channel | None = None) -> list[AddressChange]:
        stmt = select(AddressChangeRow).where(AddressChangeRow.user_id == user_id)
        if channel is not None:
            stmt = stmt.where(AddressChangeRow.channel == channel.value)
        return self._all(stmt.order_by(AddressChangeRow.id.desc()))


class SqlPersonalDataRepository:
    def __init__(self, session) -> None:  # noqa: ANN001 - a SQLAlchemy Session
        self.session = session
        self._families = _Families(session)
        self._events = _Events(session)
        self._invitations = _Invitations(session)

    def families(self, user_id: int) -> list[RefreshFamily]:
        return self._families._all(select(RefreshFamilyRow)
                                   .where(RefreshFamilyRow.user_id == user_id)
                                   .order_by(RefreshFamilyRow.created_at.desc()))

    def activity(self, user_id: int) -> list[AuditEvent]:
        return self._events._all(select(AuditEventRow).where(AuditEventRow.user_id == user_id)
                                 .order_by(AuditEventRow.id.desc()))

    def invitations(self, user_id: int, email: str | None) -> list[Invitation]:
        mine = [InvitationRow.inviter_id == user_id, InvitationRow.accepted_user_id == user_id]
        if email:
            mine.append(InvitationRow.email == email)
        return self._invitations._all(select(InvitationRow).where(or_(*mine))
                                      .order_by(InvitationRow.id.desc()))

    def active_staff(self) -> int:
        # Each count waits for the transaction that counted before it to end, so of two
        # that would each remove one of the last two staff, the second counts (READ
        # COMMITTED: a statement sees what is committed) after the first's change. Not
        # the staff rows FOR UPDATE: each caller holds its target's row already, and two
        # of them would then wait for each other's (a deadlock). SQLite needs nothing:
        # every unit of work begins IMMEDIATE, holding the write lock (tune_sqlite).
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(select(func.pg_advisory_xact_lock(STAFF_COUNT_LOCK)))
        return int(self.session.scalar(
            select(func.count()).select_from(UserRow)
            .where(UserRow.is_staff.is_(True), UserRow.is_active.is_(True),
                   UserRow.deletion_due_at.is_(None))) or 0)

    def erase(self, user_id: int, addresses: list[str], pseudonym: str,
              keep_message: int | None, customer_id: str | None = None) -> None:
        self._pseudonymise(user_id, addresses, pseudonym)
        if customer_id:  # Stripe's events about the customer carry its email, name, phone
            payload = cast(BillingEventRow.payload, Text)
            self.session.execute(update(BillingEventRow)
                                 .where(payload.like(f'%"{customer_id}"%'))
                                 .values(payload={"redacted": True})
                                 .execution_options(synchronize_session=False))
        messages = select(OutboxRow).where(OutboxRow.user_id == user_id)
        if keep_message is not None:
            messages = messages.where(OutboxRow.id != keep_message)
        for row in self.session.scalars(messages):
            row.payload = {"template": row.payload.get("template"), "redacted": True}
            row.user_id = None
            if row.status == MessageStatus.PENDING.value:
                row.status, row.last_error = MessageStatus.FAILED.value, ERASED
        if addresses:
            self.session.execute(delete(InvitationRow).where(InvitationRow.email.in_(addresses)))
        self.session.execute(delete(UserRow).where(UserRow.id == user_id))
        self.session.flush()
        self.session.expunge_all()  # the deleted rows' cascades happened in the database

    def _pseudonymise(self, user_id: int, addresses: list[str], pseudonym: str) -> None:
        """Events stay (what happened, when); who it was does not: no id, IP, browser,
        and no address in their data."""
        for column in (AuditEventRow.user_id, AuditEventRow.actor_id):
            for row in self.session.scalars(select(AuditEventRow).where(column == user_id)):
                row.data = {**_scrubbed(row.data or {}, addresses, pseudonym),
                            "subject" if column is AuditEventRow.user_id else "actor":
                            pseudonym}
                row.ip, row.user_agent = "", ""
        self.session.flush()
        self.session.execute(update(AuditEventRow).where(AuditEventRow.user_id == user_id)
                             .values(user_id=None).execution_options(synchronize_session=False))
        self.session.execute(update(AuditEventRow).where(AuditEventRow.actor_id == user_id)
                             .values(actor_id=None).execution_options(synchronize_session=False))


def _scrubbed(data: dict, addresses: list[str], pseudonym: str) -> dict:
    return {key: pseudonym if isinstance(value, str) and value in addresses else value
            for key, value in data.items()}


class _Families(_Mapped[RefreshFamily, RefreshFamilyRow]):
    entity, row = RefreshFamily, RefreshFamilyRow


class _Events(_Mapped[AuditEvent, AuditEventRow]):
    entity, row = AuditEvent, AuditEventRow


class _Invitations(_Mapped[Invitation, InvitationRow]):
    entity, row = Invitation, InvitationRow
