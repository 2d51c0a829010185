"""Entities: User, Invitation, one-time codes, refresh-token families, outbox messages.

Plain dataclasses with the behaviour that needs no I/O. Times are aware UTC
datetimes handed in by the caller (the clock is a port), never read here.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from webapp.domain.values import Channel


def new_uniquifier() -> str:
    """A fresh per-user secret; rotating it logs the user out everywhere."""
    return secrets.token_hex(16)


@dataclass(eq=False)
class User:
    email: str | None
    phone: str | None
    password_hash: str
    first_name: str = ""
    last_name: str = ""
    id: int | None = None
    uniquifier: str = field(default_factory=new_uniquifier)
    email_verified_at: datetime | None = None
    phone_verified_at: datetime | None = None
    is_active: bool = True
    is_staff: bool = False
    stripe_customer_id: str | None = None
    created_at: datetime | None = None
    last_login_at: datetime | None = None
    password_changed_at: datetime | None = None
    # Empty: no second factor. Otherwise a random stamp, new whenever a factor is added or
    # removed, which trusted-browser cookies are bound to (they die with it).
    mfa_version: str = ""
    # Set while the account waits for its erasure (ACCOUNT_DELETION_GRACE): sign-in is
    # refused meanwhile, and the cancel link clears it.
    deletion_due_at: datetime | None = None

    @property
    def has_second_factor(self) -> bool:
        return bool(self.mfa_version)
    # API logins ended from the device list lately (see domain/sessions.py): their access
    # tokens die at their next check, which reads this row anyway.
    ended_families: str = ""

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None or self.phone_verified_at is not None

    def address(self, channel: Channel) -> str | None:
        """The account's email address or phone number."""
        return self.email if channel is Channel.EMAIL else self.phone

    def verified_at(self, channel: Channel) -> datetime | None:
        return self.email_verified_at if channel is Channel.EMAIL else self.phone_verified_at

    def channels(self) -> list[Channel]:
        """The channels this account has an address on."""
        return [channel for channel in Channel if self.address(channel)]

    def vouches_for(self, channel: Channel) -> bool:
        """Whether the account's address on ``channel`` may be used to sign in or to reset
        the password: it is verified, or nothing on the account is yet (sign-up is still
        open and answers "unverified"). An unverified address beside a verified one proves
        nothing: whoever typed it in may not own it (a mistyped number, or someone
        else's email put on an account in order to take it over)."""
        return self.verified_at(channel) is not None or not self.is_verified

    def notice_channel(self) -> Channel | None:
        """Where news about the account goes (a changed password, a new device): the first
        address that vouches for it, the email before the phone. Never an unproven
        address beside a proven one: it may be a typo, or someone else's on purpose."""
        return next((c for c in self.channels() if self.vouches_for(c)), None)

    def drop_address(self, channel: Channel) -> None:
        """The address leaves the account (never its last one: callers check)."""
        if channel is Channel.EMAIL:
            self.email, self.email_verified_at = None, None
        else:
            self.phone, self.phone_verified_at = None, None

    def set_address(self, channel: Channel, value: str, verified_at: datetime | None) -> None:
        """The address on ``channel`` becomes ``value`` (proven at ``verified_at``)."""
        if channel is Channel.EMAIL:
            self.email, self.email_verified_at = value, verified_at
        else:
            self.phone, self.phone_verified_at = value, verified_at

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def identities(self) -> list[str]:
        """The addresses a password must not resemble."""
        return [value for value in (self.email, self.phone) if value]

    def mark_verified(self, channel: Channel, now: datetime) -> bool:
        """The address on ``channel`` is proven. True when this made the account verified
        for the first time."""
        first = not self.is_verified
        if self.verified_at(channel) is None:
            if channel is Channel.EMAIL:
                self.email_verified_at = now
            else:
                self.phone_verified_at = now
        return first

    def password_fingerprint(self) -> str:
        """A digest of the password state (uniquifier and hash): links and pending sign-ins
        bound to it die when the password changes or the user logs out everywhere."""
        material = f"{self.uniquifier}:{self.password_hash}".encode()
        return hashlib.sha256(material).hexdigest()[:32]

    def set_password_hash(self, password_hash: str, now: datetime) -> None:
        """A new password: sessions, reset links and remember-me die with the old uniquifier."""
        self.password_hash = password_hash
        self.uniquifier = new_uniquifier()
        self.password_changed_at = now


class CodePurpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    VERIFY_PHONE = "verify_phone"
    RESET_EMAIL = "reset_email"
    RESET_PHONE = "reset_phone"
    CHANGE_EMAIL = "change_email"
    CHANGE_PHONE = "change_phone"

    @staticmethod
    def verify(channel: Channel) -> CodePurpose:
        return CodePurpose.VERIFY_EMAIL if channel is Channel.EMAIL else CodePurpose.VERIFY_PHONE

    @staticmethod
    def reset(channel: Channel) -> CodePurpose:
        return CodePurpose.RESET_EMAIL if channel is Channel.EMAIL else CodePurpose.RESET_PHONE

    @staticmethod
    def change(channel: Channel) -> CodePurpose:
        return CodePurpose.CHANGE_EMAIL if channel is Channel.EMAIL else CodePurpose.CHANGE_PHONE


MAX_CODE_ATTEMPTS = 5


@dataclass(eq=False)
class OneTimeCode:
    """A 6-digit code, stored only as a keyed hash. Only the newest code of a purpose counts."""

    user_id: int
    purpose: CodePurpose
    destination: str
    code_hash: str
    expires_at: datetime
    created_at: datetime
    attempts: int = 0
    consumed_at: datetime | None = None
    id: int | None = None

    @property
    def locked(self) -> bool:
        """Too many wrong tries: even the right code is refused until a new one is issued."""
        return self.attempts >= MAX_CODE_ATTEMPTS

    def is_usable(self, now: datetime, *, since: datetime | None = None) -> bool:
        """The one rule for a code: unspent, unexpired, not locked, and (``since``, e.g.
        the last password change) issued after whatever should have killed it."""
        return (
            self.consumed_at is None
            and not self.locked
            and now < self.expires_at
            and (since is None or self.created_at >= since)
        )


@dataclass(eq=False)
class RefreshFamily:
    """One login's chain of rotating refresh tokens.

    Each refresh spends generation ``n`` and issues ``n + 1``. A spent generation
    presented again (after a short grace for racing tabs) revokes the family.
    """

    id: str
    user_id: int
    created_at: datetime
    generation: int = 0
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None
    user_agent: str = ""
    ip: str = ""

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def within_grace(self, now: datetime, grace: timedelta) -> bool:
        return self.rotated_at is not None and now - self.rotated_at <= grace


class MessageKind(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    STRIPE_CUSTOMER = "stripe_customer"
    CUSTOMER_UPDATE = "customer_update"  # the Stripe customer gets the user's new addresses
    CUSTOMER_DELETE = "customer_delete"  # an erased account's Stripe customer goes
    ACCOUNT_ERASE = "account_erase"  # due at the end of the deletion grace


class MessageStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry; staff can retry


@dataclass(eq=False)
class OutboxMessage:
    """A side effect recorded in the same transaction as its cause, delivered after commit."""

    kind: MessageKind
    payload: dict[str, Any]
    created_at: datetime
    next_attempt_at: datetime
    user_id: int | None = None
    idempotency_key: str | None = None
    status: MessageStatus = MessageStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    locked_until: datetime | None = None
    locked_by: str | None = None
    sent_at: datetime | None = None
    id: int | None = None

    @property
    def destination(self) -> str:
        return str(self.payload.get("to", ""))

    @property
    def content_gone(self) -> bool:
        """Its address and content were removed (delivered and scrubbed, or its account
        erased): nothing is left that could be sent."""
        return bool(self.payload.get("redacted"))

    def due_again(self, now: datetime, max_attempts: int) -> None:
        """Staff asked for another try now. A live lease is left alone: its worker owns the
        message until the lease ends, so nobody sends it twice."""
        self.status = MessageStatus.PENDING
        self.next_attempt_at = now
        if self.attempts >= max_attempts:
            self.attempts = 0


@dataclass(eq=False)
class AuditEvent:
    """A security event, named with the OWASP logging vocabulary (``authn_login_fail``)."""

    kind: str
    created_at: datetime
    user_id: int | None = None
    actor_id: int | None = None
    ip: str = ""
    user_agent: str = ""
    request_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    @property
    def by_staff(self) -> bool:
        """Done to the account by a staff member: its IP address and browser are the
        staff member's, never shown to the account's owner."""
        return self.actor_id is not None and self.actor_id != self.user_id
