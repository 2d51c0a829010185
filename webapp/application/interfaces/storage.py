"""Repositories, the unit of work, and the per-request readers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, Protocol

from webapp.application.interfaces.factors import (
    MfaChallengeRepository,
    PasskeyRepository,
    RecoveryCodeRepository,
    TotpRepository,
    WebAuthnChallengeRepository,
)
from webapp.application.interfaces.personal_data import (
    AddressChangeRepository,
    PersonalDataRepository,
)
from webapp.application.interfaces.sessions import KnownDeviceRepository
from webapp.domain.billing import BillingEvent, Subscription
from webapp.domain.invitations import Invitation
from webapp.domain.model import (
    AuditEvent,
    CodePurpose,
    MessageKind,
    OneTimeCode,
    OutboxMessage,
    RefreshFamily,
    User,
)
from webapp.domain.sessions import DeviceSeen, DeviceVisit
from webapp.domain.values import Email, Phone


class UserRepository(Protocol):
    def add(self, user: User) -> User: ...

    def get(self, user_id: int, *, lock: bool = False) -> User | None:
        """``lock`` takes a row lock (SELECT ... FOR UPDATE) until the transaction ends."""
        ...

    def get_by_email(self, email: str, *, lock: bool = False) -> User | None: ...

    def get_by_phone(self, phone: str, *, lock: bool = False) -> User | None: ...

    def get_by_customer(self, customer_id: str, *, lock: bool = False) -> User | None:
        """The user whose ``stripe_customer_id`` this is."""
        ...

    def save(self, user: User) -> None: ...


class CodeRepository(Protocol):
    def add(self, code: OneTimeCode) -> None: ...

    def latest(self, user_id: int, purposes: Sequence[CodePurpose]) -> OneTimeCode | None: ...

    def save(self, code: OneTimeCode) -> None: ...


class RefreshFamilyRepository(Protocol):
    def add(self, family: RefreshFamily) -> None: ...

    def get(self, family_id: str) -> RefreshFamily | None: ...

    def rotate(self, family_id: str, from_generation: int, now: datetime, ip: str) -> bool:
        """Atomically move generation n to n + 1, from the client address ``ip`` (the
        login's last seen one); False when another request already did."""
        ...

    def revoke(self, family_id: str, now: datetime, reason: str) -> None: ...

    def revoke_all(self, user_id: int, now: datetime, reason: str) -> int: ...

    def active_for_user(self, user_id: int) -> list[RefreshFamily]: ...


class OutboxRepository(Protocol):
    def add(self, message: OutboxMessage) -> None: ...

    def get(self, message_id: int) -> OutboxMessage | None: ...

    def claim_due(
        self,
        now: datetime,
        lease_until: datetime,
        worker: str,
        limit: int,
    ) -> list[OutboxMessage]:
        """Lock up to ``limit`` due messages for this worker (SKIP LOCKED where supported)."""
        ...

    def save(self, message: OutboxMessage) -> None: ...

    def mark_sent(self, message_id: int, worker: str, now: datetime,
                  payload: dict[str, Any] | None) -> bool:
        """Sent, if ``worker`` still holds its lease (and the message is still pending):
        lease cleared, error forgotten, ``payload`` stored unless None. True if marked."""
        ...

    def for_user(self, user_id: int, limit: int = 50) -> list[OutboxMessage]: ...

    def of_kinds(self, user_id: int, kinds: Sequence[MessageKind]) -> list[OutboxMessage]:
        """All of the user's messages of these kinds, whatever their number or status."""
        ...

    def latest(self, user_id: int, kind: MessageKind) -> OutboxMessage | None:
        """The user's newest message of this kind."""
        ...

    def recent(self, kinds: Sequence[MessageKind], limit: int = 50) -> list[OutboxMessage]:
        """The newest messages of these kinds, newest first."""
        ...


class AuditRepository(Protocol):
    def add(self, event: AuditEvent) -> None: ...

    def for_user(self, user_id: int, limit: int = 50) -> list[AuditEvent]: ...

    def page(self, user_id: int, kinds: Sequence[str], offset: int, limit: int
             ) -> list[AuditEvent]:
        """The user's events of these kinds, newest first, ``limit`` from ``offset``."""
        ...


class InvitationRepository(Protocol):
    def add(self, invitation: Invitation) -> None: ...

    def get(self, invitation_id: int) -> Invitation | None: ...

    def save(self, invitation: Invitation) -> None: ...


class SubscriptionRepository(Protocol):
    def add(self, subscription: Subscription) -> None: ...

    def get(self, stripe_id: str, *, lock: bool = False) -> Subscription | None: ...

    def save(self, subscription: Subscription) -> None: ...

    def for_user(self, user_id: int, customer_id: str | None) -> list[Subscription]:
        """The user's subscriptions (linked by user id or by their Stripe customer)."""
        ...

    def for_customer(self, customer_id: str) -> list[Subscription]: ...


class BillingEventRepository(Protocol):
    def add(self, event: BillingEvent) -> None: ...

    def get(self, event_id: str, *, lock: bool = False) -> BillingEvent | None: ...

    def save(self, event: BillingEvent) -> None: ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the ``with`` block without ``commit()`` rolls back."""

    users: UserRepository
    codes: CodeRepository
    families: RefreshFamilyRepository
    outbox: OutboxRepository
    audit: AuditRepository
    invitations: InvitationRepository
    subscriptions: SubscriptionRepository
    billing_events: BillingEventRepository
    totp: TotpRepository
    recovery_codes: RecoveryCodeRepository
    mfa_challenges: MfaChallengeRepository
    devices: KnownDeviceRepository
    passkeys: PasskeyRepository
    webauthn_challenges: WebAuthnChallengeRepository
    address_changes: AddressChangeRepository
    personal_data: PersonalDataRepository

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, *exc: object) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def ping(self) -> None:
        """One round trip to the database; raises when it does not answer."""
        ...

    def commit_and_raise(self, error: BaseException) -> NoReturn:
        """Keep what this transaction wrote (a counted wrong try, an audit event), then
        raise ``error``: the step of every refusal that must leave a trace. Inherited by
        implementations that subclass this protocol."""
        self.commit()
        raise error


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class UserReader(Protocol):
    def get(self, user_id: int) -> User | None: ...


class ReadOnlyUnitOfWork(Protocol):
    """Reads outside any transaction, for the checks made on every request (an access
    token, a browser session): no BEGIN, no ROLLBACK, nothing to commit."""

    users: UserReader

    def __enter__(self) -> ReadOnlyUnitOfWork: ...

    def __exit__(self, *exc: object) -> None: ...


class ReadOnlyUnitOfWorkFactory(Protocol):
    def __call__(self) -> ReadOnlyUnitOfWork: ...


@dataclass(frozen=True)
class SuccessfulLogin:
    """What a successful login writes, all or nothing.

    ``user`` carries the new ``last_login_at`` and ``password_hash`` (rehashed or the
    same); ``verified_hash`` is the stored hash the password was checked against.
    ``family`` is the new refresh family of a token login (None for a browser login);
    ``device`` the device it came from (None: not tracked), for new-device notices.
    """

    user: User
    verified_hash: str
    event: AuditEvent
    family: RefreshFamily | None = None
    device: DeviceVisit | None = None

    def still_applies_to(self, current: User) -> bool:
        """The account is still as it was checked: active, with the same session version
        (uniquifier), the same password hash and the same second factors (a factor turned
        on meanwhile must be asked for). Otherwise the login is not written."""
        return (
            current.id == self.user.id
            and current.is_active
            and current.uniquifier == self.user.uniquifier
            and current.password_hash == self.verified_hash
            and current.mfa_version == self.user.mfa_version
        )


class LoginStore(Protocol):
    """A login's read and its write, each a short step of its own: no transaction is
    held open across the password hash between them."""

    def find_user(self, email: Email | None, phone: Phone | None) -> User | None: ...

    def record(self, login: SuccessfulLogin) -> LoginRecorded | None:
        """Write the login at once if ``login.still_applies_to`` the stored account:
        ``last_login_at`` and ``password_hash``, the family, the audit event and the
        device (added if the account lacks it; its last-seen time moved if at or before
        ``refresh_before``). None, and nothing written, when it does not apply."""
        ...


@dataclass(frozen=True)
class LoginRecorded:
    """A login written; ``device``: what its device's record was before (None: the login
    tracked no device)."""

    device: DeviceSeen | None = None


class UniqueConflict(Exception):
    """Raised by a repository's ``add``/``save`` or by ``UnitOfWork.commit`` when a unique
    constraint refused the change.

    The transaction is rolled back (at the latest when the unit of work is left); the
    caller may start a new one and look again.
    """
