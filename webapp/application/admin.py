"""Staff use cases: look people up, act on an account, create the first admin.

Every action re-checks, inside its own transaction, that the acting account is active
staff (the blueprint checks too: defence in depth), and writes an ``authz_admin`` audit
event naming the acting staff member. The read side (lists, counts, the funnel) goes
through the ``StaffQueries`` port so that the listing SQL can use indexes and dialect
features in infrastructure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from webapp.application.addresses import claim_unproven_email
from webapp.application.common import Ports, Service
from webapp.application.interfaces import StaffQueries, UnitOfWork
from webapp.application.mfa import MfaService
from webapp.application.password_reset import PasswordResetService
from webapp.application.staff import account_for, keep_staff, lacks_required_factor, require_staff
from webapp.application.staff_messages import resend_verification, send_reset
from webapp.application.stripe_customer import queue_customer_now
from webapp.application.tokens import TokenService
from webapp.application.verification import VerificationService
from webapp.domain.billing import Subscription
from webapp.domain.errors import ActionRefused, NotFound, ValidationFailed
from webapp.domain.model import (
    AuditEvent,
    MessageStatus,
    OutboxMessage,
    RefreshFamily,
    User,
    new_uniquifier,
)
from webapp.domain.values import Channel, Email


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
# Actions that change what protects an account say why (required, audited, this long):
ReasonedHandler = Callable[[UnitOfWork, User | None, User, str], str]
REASON_MAX = 500
WAITING_FOR_DELETION = ("This account is waiting for deletion, as its user asked; only they "
                        "can cancel it, with the link they were sent.")


class AdminService(Service):
    def __init__(self, ports: Ports, verification: VerificationService,
                 resets: PasswordResetService, tokens: TokenService,
                 queries: StaffQueries, mfa: MfaService) -> None:
        super().__init__(ports)
        self.verification = verification
        self.resets = resets
        self.tokens = tokens
        self.queries = queries
        self.mfa = mfa
        self.actions: dict[str, Handler] = {
            "mark_verified": self._mark_verified,
            "resend_verification": lambda uow, _, user: resend_verification(
                self, uow, user, self.verification),
            "send_reset": lambda uow, actor, user: send_reset(self, uow, actor, user,
                                                             self.resets),
            "deactivate": self._deactivate,
            "reactivate": self._reactivate,
            "revoke_sessions": self._revoke_sessions,
            "retry_stripe": self._retry_stripe,
            "promote": self._promote,
            "demote": self._demote,
        }
        self.reasoned_actions: dict[str, ReasonedHandler] = {"mfa_off": self._mfa_off}

    # --- who may act ------------------------------------------------------------------

    def require_staff(self, uow: UnitOfWork, actor_id: int | None) -> User | None:
        return require_staff(self, uow, actor_id, "admin")

    def denied(self, user: User | None, path: str) -> None:
        """Record a refused attempt on a staff page (OWASP ``authz_fail``)."""
        with self.ports.uow() as uow:
            self.audit(uow, "authz_fail", user, path=path[:200])
            uow.commit()

    # --- reading ----------------------------------------------------------------------

    def user_detail(self, user_id: int) -> UserDetail:
        with self.ports.uow() as uow:
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
        with self.ports.uow() as uow:
            user = account_for(self, uow, identifier)
        if user is None or user.id is None:
            raise NotFound(f"No account for {identifier}.")
        return user.id

    # --- acting -----------------------------------------------------------------------

    def needs_reason(self, action: str) -> bool:
        return action in self.reasoned_actions

    def act(self, actor_id: int | None, user_id: int, action: str, reason: str = "") -> str:
        """Run one staff action on one account; returns a sentence for the staff member.
        Actions in ``reasoned_actions`` need a ``reason``, audited with them."""
        if action not in self.actions and not self.needs_reason(action):
            raise NotFound("No such action.")
        why = " ".join(reason.split())
        if self.needs_reason(action) and not why:
            raise ValidationFailed({"reason": ["Say why: the reason is kept in the audit log."]})
        if len(why) > REASON_MAX:
            raise ValidationFailed({"reason": [f"Use at most {REASON_MAX} characters."]})
        with self.ports.uow() as uow:
            if actor_id is not None:
                # Both rows, in one order: of two staff members demoting each other at once,
                # the second waits, then finds it is no longer staff (not both demoted).
                for row in sorted({actor_id, user_id}):
                    uow.users.get(row, lock=True)
            actor = self.require_staff(uow, actor_id)
            user = uow.users.get(user_id, lock=True)
            if user is None:
                raise NotFound("No such user.")
            if self.needs_reason(action):
                message = self.reasoned_actions[action](uow, actor, user, why)
            else:
                message = self.actions[action](uow, actor, user)
            self.audit(uow, "authz_admin", user, actor=actor, action=action,
                       via="cli" if actor is None else "admin", **({"reason": why} if why else {}))
            uow.commit()
            return message

    def retry_message(self, actor_id: int | None, message_id: int) -> OutboxMessage:
        with self.ports.uow() as uow:
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
        if message.content_gone:
            raise ActionRefused("This message's account was erased: nothing is left to send.")
        message.due_again(self.now(), self.policy.delivery_max_attempts)
        uow.outbox.save(message)

    def _mark_verified(self, uow: UnitOfWork, actor: User | None, user: User) -> str:
        channel = Channel.EMAIL if user.email is not None else Channel.PHONE
        if user.verified_at(channel) is not None:
            raise ActionRefused("This account is already verified.")
        self.verification.mark_verified(uow, user, channel)
        return "Marked as verified; the Stripe customer is queued."

    def _deactivate(self, uow: UnitOfWork, actor: User | None, user: User) -> str:
        self._not_self(actor, user, "deactivate")
        keep_staff(uow, user)  # the command line acts as nobody: it could end the last one
        if user.deletion_due_at is not None:  # its cancel link would make it active again
            raise ActionRefused(WAITING_FOR_DELETION + " It cannot sign in meanwhile; if "
                                "they cancel, deactivate it then.")
        user.is_active = False
        self._end_sessions(uow, user, "deactivated")
        return "Deactivated; every session and token is revoked."

    def _reactivate(self, uow: UnitOfWork, actor: User | None, user: User) -> str:
        if user.deletion_due_at is not None:  # active again, it would still be erased
            raise ActionRefused(WAITING_FOR_DELETION)
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
        if user.deletion_due_at is not None:  # staff, it would still be erased
            raise ActionRefused(WAITING_FOR_DELETION)
        return self._set_staff(uow, actor, user, True)

    def _demote(self, uow: UnitOfWork, actor: User | None, user: User) -> str:
        self._not_self(actor, user, "demote")
        keep_staff(uow, user)
        return self._set_staff(uow, actor, user, False)

    def _set_staff(self, uow: UnitOfWork, actor: User | None, user: User, staff: bool) -> str:
        if user.is_staff != staff:
            user.is_staff = staff
            uow.users.save(user)
            self.audit(uow, "authz_change", user, actor=actor,
                       role="staff", granted=staff)
        return "Now a staff member." if staff else "No longer a staff member."

    def _mfa_off(self, uow: UnitOfWork, actor: User | None, user: User, reason: str) -> str:
        # One's own factors go from /account/security, which asks for a recent sign-in.
        self._not_self(actor, user, "turn off the second factors of")
        if not self.mfa.turn_off(uow, user, actor, reason):
            raise ActionRefused("This account has no second factor on.")
        return "Second factors turned off; the user is told."

    def staff_must_set_up_factor(self, user: User) -> bool:
        """MFA_REQUIRED_FOR_STAFF: staff without a second factor, until they set one up."""
        return lacks_required_factor(self, user)

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
        secret = self.new_password(password, [address.value])
        password_hash = self.ports.passwords.hash(secret)
        with self.ports.uow() as uow:
            user = uow.users.get_by_email(address.value, lock=True)
            if user is not None and user.deletion_due_at is not None:
                raise ActionRefused(WAITING_FOR_DELETION)  # else erased at the end of the grace
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
                self.verification.mark_verified(uow, user, Channel.EMAIL)
            self.audit(uow, "authz_admin", user, action="create_admin", via="cli")
            uow.commit()
            return user, created
