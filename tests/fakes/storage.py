"""An in-memory store, its repositories, the unit of work and the staff queries."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from webapp.application.interfaces import (
    UniqueConflict,
    UnitOfWork,
)
from webapp.domain.billing import BillingEvent, Subscription
from webapp.domain.invitations import Invitation
from webapp.domain.model import (
    AuditEvent,
    CodePurpose,
    MessageStatus,
    OneTimeCode,
    OutboxMessage,
    RefreshFamily,
    User,
)
from webapp.domain.sessions import BrowserSession, KnownDevice


@dataclass
class Store:
    """The 'database': committed state shared by every unit of work of one test."""

    users: dict[int, User] = field(default_factory=dict)
    codes: dict[int, OneTimeCode] = field(default_factory=dict)
    families: dict[str, RefreshFamily] = field(default_factory=dict)
    outbox: dict[int, OutboxMessage] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    invitations: dict[int, Invitation] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    billing_events: dict[str, BillingEvent] = field(default_factory=dict)
    totp: dict[int, Any] = field(default_factory=dict)
    recovery_codes: dict[int, Any] = field(default_factory=dict)
    mfa_challenges: dict[str, Any] = field(default_factory=dict)
    devices: dict[int, KnownDevice] = field(default_factory=dict)
    passkeys: dict[int, Any] = field(default_factory=dict)
    webauthn_challenges: dict[str, Any] = field(default_factory=dict)
    address_changes: dict[int, Any] = field(default_factory=dict)
    ids: Any = field(default_factory=lambda: itertools.count(1))


class _Repo:
    def __init__(self, state: Store) -> None:
        self.state = state

    def _next_id(self) -> int:
        return next(self.state.ids)


class FakeUserRepository(_Repo):
    UNIQUE = ("email", "phone", "stripe_customer_id")  # the unique columns of users

    def _check_unique(self, user: User) -> None:
        for other in self.state.users.values():
            if other.id != user.id and any(
                getattr(user, name) and getattr(other, name) == getattr(user, name)
                for name in self.UNIQUE
            ):
                raise UniqueConflict("users")

    def add(self, user: User) -> User:
        self._check_unique(user)
        user.id = self._next_id()
        self.state.users[user.id] = copy.deepcopy(user)
        return user

    def get(self, user_id: int, *, lock: bool = False) -> User | None:
        return copy.deepcopy(self.state.users.get(user_id))

    def get_by_email(self, email: str, *, lock: bool = False) -> User | None:
        return next((copy.deepcopy(u) for u in self.state.users.values() if u.email == email), None)

    def get_by_phone(self, phone: str, *, lock: bool = False) -> User | None:
        return next((copy.deepcopy(u) for u in self.state.users.values() if u.phone == phone), None)

    def get_by_customer(self, customer_id: str, *, lock: bool = False) -> User | None:
        return next(
            (
                copy.deepcopy(u)
                for u in self.state.users.values()
                if u.stripe_customer_id == customer_id
            ),
            None,
        )

    def save(self, user: User) -> None:
        self._check_unique(user)
        self.state.users[user.id or 0] = copy.deepcopy(user)


class FakeCodeRepository(_Repo):
    def add(self, code: OneTimeCode) -> None:
        code.id = self._next_id()
        self.state.codes[code.id] = copy.deepcopy(code)

    def latest(self, user_id: int, purposes: Sequence[CodePurpose]) -> OneTimeCode | None:
        mine = [
            c for c in self.state.codes.values() if c.user_id == user_id and c.purpose in purposes
        ]
        return copy.deepcopy(max(mine, key=lambda c: c.id or 0)) if mine else None

    def save(self, code: OneTimeCode) -> None:
        self.state.codes[code.id or 0] = copy.deepcopy(code)


class FakeRefreshFamilyRepository(_Repo):
    def add(self, family: RefreshFamily) -> None:
        self.state.families[family.id] = copy.deepcopy(family)

    def get(self, family_id: str) -> RefreshFamily | None:
        return copy.deepcopy(self.state.families.get(family_id))

    def rotate(self, family_id: str, from_generation: int, now: datetime, ip: str) -> bool:
        family = self.state.families.get(family_id)
        if family is None or family.generation != from_generation or family.revoked_at:
            return False
        family.generation += 1
        family.rotated_at, family.ip = now, ip
        return True

    def revoke(self, family_id: str, now: datetime, reason: str) -> None:
        family = self.state.families.get(family_id)
        if family is not None and family.revoked_at is None:
            family.revoked_at, family.revoke_reason = now, reason

    def revoke_all(self, user_id: int, now: datetime, reason: str) -> int:
        live = [
            f for f in self.state.families.values() if f.user_id == user_id and f.revoked_at is None
        ]
        for family in live:
            family.revoked_at, family.revoke_reason = now, reason
        return len(live)

    def active_for_user(self, user_id: int) -> list[RefreshFamily]:
        return [
            copy.deepcopy(f)
            for f in self.state.families.values()
            if f.user_id == user_id and f.revoked_at is None
        ]


class FakeOutboxRepository(_Repo):
    def add(self, message: OutboxMessage) -> None:
        if message.idempotency_key and any(
            m.idempotency_key == message.idempotency_key for m in self.state.outbox.values()
        ):
            raise UniqueConflict("outbox")
        message.id = self._next_id()
        self.state.outbox[message.id] = copy.deepcopy(message)

    def get(self, message_id: int) -> OutboxMessage | None:
        return copy.deepcopy(self.state.outbox.get(message_id))

    def claim_due(
        self, now: datetime, lease_until: datetime, worker: str, limit: int
    ) -> list[OutboxMessage]:
        due = [
            m
            for m in sorted(
                self.state.outbox.values(), key=lambda m: (m.next_attempt_at, m.id or 0)
            )
            if m.status == MessageStatus.PENDING
            and m.next_attempt_at <= now
            and (m.locked_until is None or m.locked_until < now)
        ][:limit]
        for message in due:
            message.locked_until, message.locked_by = lease_until, worker
        return [copy.deepcopy(m) for m in due]

    def save(self, message: OutboxMessage) -> None:
        self.state.outbox[message.id or 0] = copy.deepcopy(message)

    def mark_sent(self, message_id: int, worker: str, now: datetime,
                  payload: dict[str, Any] | None) -> bool:
        message = self.state.outbox.get(message_id)
        if message is None or message.locked_by != worker or message.status != "pending":
            return False
        message.status, message.sent_at, message.last_error = MessageStatus.SENT, now, None
        message.locked_until = message.locked_by = None
        if payload is not None:
            message.payload = copy.deepcopy(payload)
        return True

    def for_user(self, user_id: int, limit: int = 50) -> list[OutboxMessage]:
        return [copy.deepcopy(m) for m in self.state.outbox.values() if m.user_id == user_id]

    def of_kinds(self, user_id: int, kinds: Sequence[str]) -> list[OutboxMessage]:
        return [copy.deepcopy(m) for m in self.state.outbox.values()
                if m.user_id == user_id and m.kind in kinds]

    def latest(self, user_id: int, kind: str) -> OutboxMessage | None:
        mine = [m for m in self.state.outbox.values() if m.user_id == user_id and m.kind == kind]
        return copy.deepcopy(max(mine, key=lambda m: m.id or 0, default=None))

    def recent(self, kinds: Sequence[str], limit: int = 50) -> list[OutboxMessage]:
        newest = sorted(self.state.outbox.values(), key=lambda m: m.id or 0, reverse=True)
        return [copy.deepcopy(m) for m in newest if m.kind in kinds][:limit]


class FakeAuditRepository(_Repo):
    def add(self, event: AuditEvent) -> None:
        event.id = self._next_id()
        self.state.audit.append(copy.deepcopy(event))

    def for_user(self, user_id: int, limit: int = 50) -> list[AuditEvent]:
        return [e for e in self.state.audit if e.user_id == user_id][-limit:]

    def page(
        self, user_id: int, kinds: Sequence[str], offset: int, limit: int
    ) -> list[AuditEvent]:
        mine = [e for e in reversed(self.state.audit) if e.user_id == user_id and e.kind in kinds]
        return copy.deepcopy(mine[offset : offset + limit])


class FakeKnownDeviceRepository(_Repo):
    def get(self, user_id: int, key: str) -> KnownDevice | None:
        return copy.deepcopy(
            next(
                (d for d in self.state.devices.values() if (d.user_id, d.key) == (user_id, key)),
                None,
            )
        )

    def has_any(self, user_id: int) -> bool:
        return any(d.user_id == user_id for d in self.state.devices.values())

    def add(self, device: KnownDevice) -> None:
        if self.get(device.user_id, device.key) is not None:
            raise UniqueConflict("known_devices")
        device.id = self._next_id()
        self.state.devices[device.id] = copy.deepcopy(device)

    def save(self, device: KnownDevice) -> None:
        self.state.devices[device.id or 0] = copy.deepcopy(device)


class FakeSessionStore:
    """The SessionStore port in memory (it is outside the unit of work, as the real ones)."""

    def __init__(self) -> None:
        self.sessions: dict[str, BrowserSession] = {}
        self.touches = 0

    def add(self, session: BrowserSession, idle: timedelta) -> None:
        self.sessions[session.id] = copy.deepcopy(session)

    def get(self, session_id: str) -> BrowserSession | None:
        return copy.deepcopy(self.sessions.get(session_id))

    def touch(self, session_id: str, now: datetime, ip: str, idle: timedelta) -> None:
        if session_id in self.sessions:
            self.touches += 1
            self.sessions[session_id].last_seen_at = now
            self.sessions[session_id].ip = ip

    def delete(self, session_id: str) -> bool:
        return self.sessions.pop(session_id, None) is not None

    def for_user(self, user_id: int) -> list[BrowserSession]:
        return [copy.deepcopy(s) for s in self.sessions.values() if s.user_id == user_id]


class FakeInvitationRepository(_Repo):
    def add(self, invitation: Invitation) -> None:
        invitation.id = self._next_id()
        self.state.invitations[invitation.id] = copy.deepcopy(invitation)

    def get(self, invitation_id: int) -> Invitation | None:
        return copy.deepcopy(self.state.invitations.get(invitation_id))

    def save(self, invitation: Invitation) -> None:
        self.state.invitations[invitation.id or 0] = copy.deepcopy(invitation)


class FakeSubscriptionRepository(_Repo):
    def add(self, subscription: Subscription) -> None:
        if subscription.stripe_id in self.state.subscriptions:
            raise UniqueConflict("subscriptions")
        subscription.id = self._next_id()
        self.state.subscriptions[subscription.stripe_id] = copy.deepcopy(subscription)

    def get(self, stripe_id: str, *, lock: bool = False) -> Subscription | None:
        return copy.deepcopy(self.state.subscriptions.get(stripe_id))

    def save(self, subscription: Subscription) -> None:
        self.state.subscriptions[subscription.stripe_id] = copy.deepcopy(subscription)

    def for_user(self, user_id: int, customer_id: str | None) -> list[Subscription]:
        return [
            copy.deepcopy(s)
            for s in self.state.subscriptions.values()
            if s.user_id == user_id or (customer_id and s.customer_id == customer_id)
        ]

    def for_customer(self, customer_id: str) -> list[Subscription]:
        return [
            copy.deepcopy(s)
            for s in self.state.subscriptions.values()
            if s.customer_id == customer_id
        ]


class FakeBillingEventRepository(_Repo):
    def add(self, event: BillingEvent) -> None:
        if event.id in self.state.billing_events:
            raise UniqueConflict("billing_events")
        self.state.billing_events[event.id] = copy.deepcopy(event)

    def get(self, event_id: str, *, lock: bool = False) -> BillingEvent | None:
        return copy.deepcopy(self.state.billing_events.get(event_id))

    def save(self, event: BillingEvent) -> None:
        self.state.billing_events[event.id] = copy.deepcopy(event)


class FakeUnitOfWork(UnitOfWork):
    """Works on a copy of the store; ``commit`` publishes it, leaving without commit drops it."""

    def __init__(self, store: Store, log: list[FakeUnitOfWork]) -> None:
        self.store = store
        self.committed = False
        log.append(self)

    def __enter__(self) -> FakeUnitOfWork:
        self._begin()
        return self

    def _begin(self) -> None:
        self.working = copy.deepcopy(self.store)
        self.working.ids = self.store.ids
        self.users = FakeUserRepository(self.working)
        self.codes = FakeCodeRepository(self.working)
        self.families = FakeRefreshFamilyRepository(self.working)
        self.outbox = FakeOutboxRepository(self.working)
        self.audit = FakeAuditRepository(self.working)
        self.invitations = FakeInvitationRepository(self.working)
        self.subscriptions = FakeSubscriptionRepository(self.working)
        self.billing_events = FakeBillingEventRepository(self.working)
        # Imported here: tests/fakes/mfa.py builds on this module's Store and _Repo.
        from tests.fakes.mfa import (
            FakeMfaChallengeRepository,
            FakeRecoveryCodeRepository,
            FakeTotpRepository,
        )

        self.totp = FakeTotpRepository(self.working)
        self.recovery_codes = FakeRecoveryCodeRepository(self.working)
        self.mfa_challenges = FakeMfaChallengeRepository(self.working)
        self.devices = FakeKnownDeviceRepository(self.working)
        from tests.fakes.passkeys import FakePasskeyRepository, FakeWebAuthnChallengeRepository

        self.passkeys = FakePasskeyRepository(self.working)
        self.webauthn_challenges = FakeWebAuthnChallengeRepository(self.working)
        from tests.fakes.personal_data import (
            FakeAddressChangeRepository,
            FakePersonalDataRepository,
        )

        self.address_changes = FakeAddressChangeRepository(self.working)
        self.personal_data = FakePersonalDataRepository(self.working)

    def __exit__(self, *exc: object) -> None:
        self.rollback()

    def commit(self) -> None:
        for name in (
            "users",
            "codes",
            "families",
            "outbox",
            "audit",
            "invitations",
            "subscriptions",
            "billing_events",
            "totp",
            "recovery_codes",
            "mfa_challenges",
            "devices",
            "passkeys",
            "webauthn_challenges",
            "address_changes",
        ):
            setattr(self.store, name, copy.deepcopy(getattr(self.working, name)))
        self.committed = True
        self._begin()

    def rollback(self) -> None:
        self._begin()

    def ping(self) -> None:
        return None


class FakeStaffQueries:
    """The staff read side over the committed store (only what service tests read)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def audit(
        self, *, user_id: int | None, kind: str | None, before_id: int | None, limit: int
    ) -> list[AuditEvent]:
        events = [
            e
            for e in reversed(self.store.audit)
            if (user_id is None or user_id in (e.user_id, e.actor_id))
            and (kind is None or e.kind == kind)
            and (before_id is None or (e.id or 0) < before_id)
        ]
        return copy.deepcopy(events[:limit])
