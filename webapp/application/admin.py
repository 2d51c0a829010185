"""Staff use cases: look people up, act on an account, create the first admin.

Every action re-checks, inside its own transaction, that the acting account is
active staff (the blueprint checks too: defence in depth), and writes an
``authz_admin`` audit event naming the acting staff member.

The read side (lists, counts, the funnel) goes through the ``StaffQueries`` port
so that the listing SQL can use indexes and dialect features in infrastructure.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from webapp.application.accounts import check_new_password, claim_unproven_email
from webapp.application.billing import queue_customer_now
from webapp.application.common import Kit, Toolkit
from webapp.application.interfaces import UnitOfWork
from webapp.application.password_reset import PasswordResetService
from webapp.application.tokens import TokenService
from webapp.application.verification import VerificationService
from webapp.domain.billing import Subscription
from webapp.domain.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from webapp.domain.model import (
    AuditEvent,
    Invitation,
    MessageStatus,
    OutboxMessage,
    RefreshFamily,
    User,
    new_uniquifier,
)
from webapp.domain.values import Email, Phone

PAGE_SIZE = 50
PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{3,}$")


class ActionRefused(DomainError):
    """The action makes no sense for this account right now (shown to staff as is)."""

    code = "action_refused"


def require_staff(service: Kit, uow: UnitOfWork, actor_id: int | None, action: str
                  ) -> User | None:
    """The acting staff member, read in this transaction (None: the operator's command line).

    Anyone else gets PermissionDenied, and an ``authz_fail`` event is committed first.
    """
    if actor_id is None:
        return None
    actor = uow.users.get(actor_id)
    if actor is None or not actor.is_active or not actor.is_staff:
        service.audit(uow, "authz_fail", actor, action=action)
        uow.commit()
        raise PermissionDenied()
    return actor


# --- the read side ----------------------------------------------------------------------


@dataclass(frozen=True)
class SearchTerms:
    """What ``?q=`` means, decided here once: prefixes on indexed columns only."""

    email_prefix: str = ""
    phone_prefix: str = ""
    name_prefixes: tuple[str, ...] = ()  # one word: first or last name; two: first and last

    @property
    def empty(self) -> bool:
        return not (self.email_prefix or self.phone_prefix or self.name_prefixes)


@dataclass(frozen=True)
class UserFilter:
    terms: SearchTerms = field(default_factory=SearchTerms)
    verified: bool | None = None
    active: bool | None = None
    staff: bool | None = None
    customer: bool | None = None
    subscription: str | None = None  # "live", "none", or one Stripe status ("past_due")
    sort: str = "newest"  # newest | oldest | email
    page: int = 1
    limit: int = PAGE_SIZE


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    page: int
    has_next: bool


@dataclass(frozen=True)
class FunnelDay:
    day: date
    signups: int
    verified: int
    customers: int
    subscribed: int | None  # None until billing records subscriptions


class StaffQueries(Protocol):
    def users(self, wanted: UserFilter) -> UserPage: ...

    def audit(self, *, user_id: int | None, kind: str | None, before_id: int | None,
              limit: int) -> list[AuditEvent]: ...

    def audit_kinds(self) -> list[str]: ...

    def outbox(self, *, statuses: tuple[str, ...], kind: str | None, before_id: int | None,
               limit: int, skip_kinds: tuple[str, ...] = ()) -> list[OutboxMessage]: ...

    def invitations(self, *, pending_at: datetime | None, limit: int) -> list[Invitation]: ...

    def counts(self, since: datetime, skip_kinds: tuple[str, ...] = ()) -> dict[str, int]:
        """users, staff, outbox_pending, ... (without messages of ``skip_kinds``)."""
        ...

    def funnel(self, since: datetime) -> list[FunnelDay]:
        """Per signup day since ``since``: signups, then how many verified, customers, paid."""
        ...

    def users_by_id(self, ids: set[int]) -> dict[int, User]: ...

    def subscription_statuses(self, user_ids: set[int]) -> dict[int, str]:
        """Each listed user's most recent subscription status (users without one: absent)."""
        ...


def search_terms(q: str, default_region: str | None) -> SearchTerms:
    """``@`` means an email; digits mean a phone number; words are names (or email starts)."""
    text = " ".join(q.split()).lower()
    if not text:
        return SearchTerms()
    if "@" in text:
        return SearchTerms(email_prefix=text.replace(" ", ""))
    if PHONE_LIKE.match(text):
        digits = re.sub(r"\D", "", text)
        try:
            return SearchTerms(phone_prefix=Phone.parse(text, default_region).value)
        except ValidationFailed:
            return SearchTerms(phone_prefix="+" + digits)
    words = tuple(text.split(" ")[:2])
    return SearchTerms(email_prefix=words[0] if len(words) == 1 else "", name_prefixes=words)


@dataclass(frozen=True)
class UserDetail:
    user: User
    logins: list[AuditEvent]
    families: list[RefreshFamily]
    messages: list[OutboxMessage]
    events: list[AuditEvent]
    subscriptions: list[Subscription]


# --- actions ----------------------------------------------------------------------------

Handler = Callable[[UnitOfWork, User | None, User], str]


class AdminService(Kit):
    def __init__(self, kit: Toolkit, verification: VerificationService,
                 resets: PasswordResetService, tokens: TokenService,
                 queries: StaffQueries) -> None:
        super().__init__(kit)
        self.verification = verification
        self.resets = resets
        self.tokens = tokens
        self.queries = queries
        self.actions: dict[str, Handler] = {
            "mark_verified": self._mark_verified,
            "resend_verification": self._resend_verification,
            "send_reset": self._send_reset,
            "deactivate": self._deactivate,
            "reactivate": self._reactivate,
            "revoke_sessions": self._revoke_sessions,
            "retry_stripe": self._retry_stripe,
            "promote": self._promote,
            "demote": self._demote,
        }

    # --- who may act ------------------------------------------------------------------

    def require_staff(self, uow: UnitOfWork, actor_id: int | None) -> User | None:
        return require_staff(self, uow, actor_id, "admin")

    def denied(self, user: User | None, path: str) -> None:
        """Record a refused attempt on a staff page (OWASP ``authz_fail``)."""
        with self.kit.uow() as uow:
            self.audit(uow, "authz_fail", user, path=path[:200])
            uow.commit()

    # --- reading ----------------------------------------------------------------------

    def user_detail(self, user_id: int) -> UserDetail:
        with self.kit.uow() as uow:
            user = uow.users.get(user_id)
            if user is None:
                raise NotFound("No such user.")
            return UserDetail(
                user=user,
                logins=self.queries.audit(user_id=user_id, kind="authn_login_success",
                                          before_id=None, limit=10),
                families=uow.families.active_for_user(user_id),
                messages=uow.outbox.for_user(user_id, limit=20),
                events=uow.audit.for_user(user_id, limit=50),
                subscriptions=uow.subscriptions.for_user(user_id, user.stripe_customer_id),
            )

    def user_id_for(self, identifier: str) -> int:
        """The id of the account with this email or phone number (command line)."""
        with self.kit.uow() as uow:
            if "@" in identifier:
                user = uow.users.get_by_email(Email.parse(identifier).value)
            else:
                user = uow.users.get_by_phone(
                    Phone.parse(identifier, self.policy.default_region).value)
        if user is None or user.id is None:
            raise NotFound(f"No account for {identifier}.")
        return user.id

    # --- acting -----------------------------------------------------------------------

    def act(self, actor_id: int | None, user_id: int, action: str) -> str:
        """Run one staff action on one account; returns a sentence for the staff member."""
        handler = self.actions.get(action)
        if handler is None:
            raise NotFound("No such action.")
        with self.kit.uow() as uow:
            actor = self.require_staff(uow, actor_id)
            user = uow.users.get(user_id, lock=True)
            if user is None:
                raise NotFound("No such user.")
            message = handler(uow, actor, user)
            self.audit(uow, "authz_admin", user, actor=actor, action=action,
                       via="cli" if actor is None else "admin")
            uow.commit()
            return message

    def retry_message(self, actor_id: int | None, message_id: int) -> OutboxMessage:
        with self.kit.uow() as uow:
            actor = self.require_staff(uow, actor_id)
            message = uow.outbox.get(message_id)
            if message is None:
                raise NotFound("No such message.")
            self._requeue(uow, message)
            user = uow.users.get(message.user_id) if message.user_id else None
            self.audit(uow, "authz_admin", user, actor=actor, action="retry_delivery",
                       message=message_id, kind_of_message=str(message.kind))
            uow.commit()
            return message

    def _requeue(self, uow: UnitOfWork, message: OutboxMessage) -> None:
        if message.status == MessageStatus.SENT:
            raise ActionRefused("This message was already delivered.")
        message.due_again(self.now(), self.policy.delivery_max_attempts)
        uow.outbox.save(message)

    def _mark_verified(self, uow: UnitOfWork, actor: User | None, user: User) -> str:
        email = user.email is not None
        if (user.email_verified_at if email else user.phone_verified_at) is not None:
            raise ActionRefused("This account is already verified.")
        self.verification.mark_verified(uow, user, email=email)
        return "Marked as verified; the Stripe customer is queued."

    def _resend_verification(self, uow: UnitOfWork, actor: User | None, user: User) -> str:
        if not user.is_active:
            raise ActionRefused("The account is deactivated.")
        if user.email and user.email_verified_at is None:
            self.verification.send_email_verification(uow, user)
            return "A new verification email is queued."
        if user.phone and user.phone_verified_at is None:
            self.verification.send_phone_verification(uow, user)
            return "A new verification SMS is queued."
        raise ActionRefused("Every address of this account is already verified.")

    def _send_reset(self, uow: UnitOfWork, actor: User | None, user: User) -> str:
        if not user.is_active:
            raise ActionRefused("The account is deactivated; reactivate it first.")
        self.resets.send_reset(uow, user)
        self.audit(uow, "authn_password_reset_requested", user, actor=actor,
                   channel="email" if user.email else "phone")
        return "A password reset message is queued."

    def _deactivate(self, uow: UnitOfWork, actor: User | None, user: User) -> str:
        self._not_self(actor, user, "deactivate")
        user.is_active = False
        self._end_sessions(uow, user, "deactivated")
        return "Deactivated; every session and token is revoked."

    def _reactivate(self, uow: UnitOfWork, actor: User | None, user: User) -> str:
        user.is_active = True
        uow.users.save(user)
        return "Reactivated."

    def _revoke_sessions(self, uow: UnitOfWork, actor: User | None, user: User) -> str:
        count = self._end_sessions(uow, user, "revoked_by_staff")
        return f"Logged out everywhere ({count} refresh-token families revoked)."

    def _end_sessions(self, uow: UnitOfWork, user: User, reason: str) -> int:
        """A new uniquifier ends browser sessions and access tokens; families end refreshes."""
        user.uniquifier = new_uniquifier()
        uow.users.save(user)
        return self.tokens.revoke_all_in(uow, user, reason)

    def _retry_stripe(self, uow: UnitOfWork, actor: User | None, user: User) -> str:
        if not self.policy.billing_enabled:
            raise ActionRefused("Billing is off (STRIPE_SECRET_KEY is not set).")
        if user.stripe_customer_id:
            raise ActionRefused("This account already has a Stripe customer.")
        if not user.is_verified:
            raise ActionRefused("The Stripe customer is made once the account is verified.")
        queue_customer_now(self, uow, user)
        return "The Stripe customer creation is queued again."

    def _promote(self, uow: UnitOfWork, actor: User | None, user: User) -> str:
        return self._set_staff(uow, actor, user, True)

    def _demote(self, uow: UnitOfWork, actor: User | None, user: User) -> str:
        self._not_self(actor, user, "demote")
        return self._set_staff(uow, actor, user, False)

    def _set_staff(self, uow: UnitOfWork, actor: User | None, user: User, staff: bool) -> str:
        if user.is_staff != staff:
            user.is_staff = staff
            uow.users.save(user)
            self.audit(uow, "authz_change", user, actor=actor,
                       role="staff", granted=staff)
        return "Now a staff member." if staff else "No longer a staff member."

    @staticmethod
    def _not_self(actor: User | None, user: User, verb: str) -> None:
        if actor is not None and actor.id == user.id:
            raise ActionRefused(f"You cannot {verb} your own account.")

    # --- the first admin --------------------------------------------------------------

    def create_admin(self, email: str, password: str) -> tuple[User, bool]:
        """Create a verified staff account, or promote (and verify, re-password) an existing one.

        Returns the user and whether it was created. The password rules apply.
        """
        address = Email.parse(email)
        secret = check_new_password(password, [address.value], breached=self.kit.breached)
        password_hash = self.kit.passwords.hash(secret)
        with self.kit.uow() as uow:
            user = uow.users.get_by_email(address.value, lock=True)
            if user is not None and user.email_verified_at is None:
                user = claim_unproven_email(self, uow, user, via="cli")
            now = self.now()
            created = user is None
            if user is None:
                user = uow.users.add(User(email=address.value, phone=None,
                                          password_hash=password_hash, created_at=now,
                                          password_changed_at=now))
                self.audit(uow, "user_created", user, via="cli")
            else:
                user.set_password_hash(password_hash, now)
                user.is_active = True
                self.tokens.revoke_all_in(uow, user, "password_changed")
                uow.users.save(user)
            self._set_staff(uow, None, user, True)
            if user.email_verified_at is None:
                self.verification.mark_verified(uow, user, email=True)
            self.audit(uow, "authz_admin", user, action="create_admin", via="cli")
            uow.commit()
            return user, created
