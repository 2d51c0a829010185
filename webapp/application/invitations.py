"""Invitations: staff (and, when allowed, users) invite an address; accepting creates the account.

The emailed link carries a signed token naming the invitation and its address.
The invitation's own state makes it single use: once accepted, revoked or past
its expiry the token is refused, whatever its signature says.
"""

from __future__ import annotations

from webapp.application.addresses import claim_unproven_email
from webapp.application.common import Ports, Service, collect
from webapp.application.interfaces import UniqueConflict, UnitOfWork
from webapp.application.signin import Door, SignedIn, SignInService
from webapp.application.staff import (
    FACTOR_FIRST,
    invitation_state,
    lacks_required_factor,
    require_staff,
)
from webapp.application.tokens import TokenService
from webapp.application.verification import VerificationService
from webapp.domain.errors import InvalidToken, NotFound, PermissionDenied, ValidationFailed
from webapp.domain.invitations import Invitation, InvitationState
from webapp.domain.model import User
from webapp.domain.values import Channel, Email, clean_name

INVITE_PURPOSE = "invitation"
INVALID_LINK = "This invitation link is invalid or has expired."
ACCOUNT_EXISTS = "This address already has an account."
LOG_IN_INSTEAD = "An account with this address already exists. Log in instead."
REFUSALS = {
    InvitationState.ACCEPTED: ("This invitation has already been used. Log in instead.",
                               "invitation_used"),
    InvitationState.REVOKED: ("This invitation has been withdrawn.", "invitation_revoked"),
    InvitationState.EXPIRED: ("This invitation has expired. Ask for a new one.",
                              "invitation_expired"),
    # Its inviter's account is closed (or no longer staff): to the invitee, as if withdrawn.
    InvitationState.VOID: ("This invitation has been withdrawn.", "invitation_revoked"),
}


def holds(user: User | None) -> bool:
    """Whether an account holds its email for good: it proved it (or staff deactivated
    it). One that never proved it gives way to the invitee, who proves it by the link
    (``claim_unproven_email``): else anyone could block an invitation by registering its
    address first."""
    return user is not None and (user.email_verified_at is not None or not user.is_active)


def refusal(state: InvitationState) -> InvalidToken:
    detail, code = REFUSALS[state]
    return InvalidToken(detail, code=code)


class InvitationService(Service):
    def __init__(self, ports: Ports, verification: VerificationService,
                 tokens: TokenService, signin: SignInService) -> None:
        super().__init__(ports)
        self.verification = verification
        self.tokens = tokens
        self.signin = signin

    # --- inviting --------------------------------------------------------------------

    def invite(self, inviter_id: int | None, email: str, *, as_staff: bool = False
               ) -> Invitation:
        """Invite an address. ``inviter_id`` None is the operator's command line.

        Staff (and the operator) are told when the address already has an account. A user
        who is not staff gets the same answer as for a new address, so the endpoint does
        not reveal who has an account: the invitation is recorded all the same (its id
        then gives nothing away either), but no link is sent, since it could not be used;
        the owner gets nothing (see ``_send_or_rehearse``). Users also spend the address's
        ``invite_per_destination`` budget, before anything is looked up, for every address,
        and their own ``invite_per_user`` budget, whatever client address they come from.
        """
        address = Email.parse(email, new=True)
        with self.ports.uow() as uow:
            inviter = self._inviter(uow, inviter_id, as_staff)
            trusted = inviter is None or inviter.is_staff
            if not trusted:
                assert inviter is not None
                # The user's own budget first: a client with many addresses gets no more.
                self.ports.throttle.spend("invite_per_user", str(inviter.id))
                self.ports.throttle.before_messages("invite_per_destination", address, None,
                                                    client=self.ports.request.current().ip)
            has_account = holds(uow.users.get_by_email(address.value))
            if has_account and trusted:
                raise ValidationFailed.single("email", ACCOUNT_EXISTS)
            now = self.now()
            invitation = Invitation(email=address.value, inviter_id=inviter_id,
                                    expires_at=now + self.policy.invitation_ttl,
                                    created_at=now, as_staff=as_staff)
            uow.invitations.add(invitation)
            self._send_or_rehearse(uow, invitation, has_account)
            self.audit(uow, "user_invited", None, actor=inviter, invitation=invitation.id,
                       email=invitation.email, staff=as_staff,
                       **({"account": "exists"} if has_account else {}))
            uow.commit()
            return invitation

    def resend(self, actor_id: int | None, invitation_id: int) -> Invitation:
        """A fresh link for a pending, expired or void invitation; its expiry starts again.
        Staff who resend a void one (its inviter's account is closed, or no longer staff)
        vouch for it now: they become its inviter (the command line's resend makes it the
        operator's)."""
        with self.ports.uow() as uow:
            actor = require_staff(self, uow, actor_id, "manage_invitation")
            invitation = self._get(uow, invitation_id)
            state = invitation_state(self, uow, invitation)
            if state in (InvitationState.ACCEPTED, InvitationState.REVOKED):
                raise refusal(state)
            if holds(uow.users.get_by_email(invitation.email)):  # staff may know
                raise ValidationFailed({"email": [ACCOUNT_EXISTS]}, ACCOUNT_EXISTS)
            invitation.expires_at = self.now() + self.policy.invitation_ttl
            if invitation_state(self, uow, invitation) is InvitationState.VOID:
                invitation.inviter_id = actor.id if actor else None
            uow.invitations.save(invitation)
            self._send(uow, invitation)
            self.audit(uow, "invitation_resent", None, actor=actor, invitation=invitation.id)
            uow.commit()
            return invitation

    def revoke(self, actor_id: int | None, invitation_id: int) -> Invitation:
        with self.ports.uow() as uow:
            actor = require_staff(self, uow, actor_id, "manage_invitation")
            invitation = self._get(uow, invitation_id)
            if invitation.accepted_at is not None:
                raise refusal(InvitationState.ACCEPTED)
            if invitation.revoked_at is None:
                invitation.revoked_at = self.now()
                uow.invitations.save(invitation)
                self.audit(uow, "invitation_revoked", None, actor=actor,
                           invitation=invitation.id)
                uow.commit()
            return invitation

    def _inviter(self, uow: UnitOfWork, inviter_id: int | None, as_staff: bool) -> User | None:
        if inviter_id is None:
            return None
        inviter = uow.users.get(inviter_id)
        if inviter is not None and inviter.is_active:
            if inviter.is_staff and lacks_required_factor(self, inviter):
                self.audit(uow, "authz_fail", inviter, action="invite",
                           reason="no_second_factor")
                uow.commit_and_raise(PermissionDenied(FACTOR_FIRST))
            if inviter.is_staff:
                return inviter
            if self.policy.invitations_by_users and inviter.is_verified and not as_staff:
                return inviter
        self.audit(uow, "authz_fail", inviter, action="invite")
        uow.commit_and_raise(PermissionDenied(
            "Only staff can send invitations." if as_staff or not
            self.policy.invitations_by_users else "Verify your account before inviting people."))

    @staticmethod
    def _get(uow: UnitOfWork, invitation_id: int) -> Invitation:
        invitation = uow.invitations.get(invitation_id)
        if invitation is None:
            raise NotFound("No such invitation.")
        return invitation

    def _send_or_rehearse(self, uow: UnitOfWork, invitation: Invitation,
                          has_account: bool) -> None:
        # An address with an account gets no message: its link could not be used (accepting
        # refuses an address with an account), and the owner has nothing to do. A notice
        # ("someone invited you") would only let any user make the site mail any account
        # holder. The message is still rendered, so the answer takes about as long.
        if has_account:
            self.rehearse("email", "invite", self._context(invitation))
        else:
            self._send(uow, invitation)

    def _context(self, invitation: Invitation) -> dict[str, object]:
        return {"as_staff": invitation.as_staff,
                "days": max(1, self.policy.invitation_ttl.days)}

    def _send(self, uow: UnitOfWork, invitation: Invitation) -> None:
        # The fixed wording names no inviter: a name (or address) is text another user chose,
        # and it would reach an address that has proven nothing.
        token = self.ports.signer.dumps(INVITE_PURPOSE, {"iid": invitation.id,
                                                       "email": invitation.email,
                                                       "at": invitation.stamp()})
        self.send_email(uow, invitation.email, "invite", {
            "link": self.policy.link(f"/invite/{token}"), **self._context(invitation)})

    # --- accepting -------------------------------------------------------------------

    def lookup(self, token: str) -> Invitation:
        """The pending invitation this token stands for, or InvalidToken saying why not:
        also when its address has an account by now (one that proved it, see ``holds``),
        since accepting would be refused whatever password the form is sent with."""
        with self.ports.uow() as uow:
            invitation = self._pending(uow, token)
            if holds(uow.users.get_by_email(invitation.email)):
                raise InvalidToken(LOG_IN_INSTEAD, code="account_exists")
            return invitation

    def _pending(self, uow: UnitOfWork, token: str) -> Invitation:
        # The invitation's own expiry decides; the signature's age limit is only a backstop
        # (twice as long, so an expired invitation is refused with the reason).
        payload, signed = self.ports.signer.loads_dated(
            INVITE_PURPOSE, token, int(self.policy.invitation_ttl.total_seconds()) * 2)
        invitation = uow.invitations.get(int(payload.get("iid", 0)))
        if (invitation is None or invitation.email != payload.get("email")
                or not invitation.sent(payload.get("at"), signed)):
            raise InvalidToken(INVALID_LINK)
        state = invitation_state(self, uow, invitation)
        if state is not InvitationState.PENDING:
            raise refusal(state)
        return invitation

    def accept(self, token: str, password: str, *, first_name: str | None = None,
               last_name: str | None = None, email: str | None = None) -> User:
        """Create the account, verified for the invited address (Stripe customer queued),
        or finish a sign-up of the address that proved nothing (``holds``)."""
        try:
            return self._accept(token, password, first_name, last_name, email)
        except UniqueConflict as exc:  # a second accept raced this one and won
            raise refusal(InvitationState.ACCEPTED) from exc

    def accept_and_sign_in(self, token: str, password: str, door: Door,
                           **fields: str | None) -> SignedIn:
        """Accept, then sign in through the pipeline as any sign-in would (same audit,
        same refusals, same tokens for the API)."""
        user = self.accept(token, password, **fields)
        assert user.email is not None
        return self.signin.with_password(email=user.email, phone=None, password=password,
                                         door=door)

    def _accept(self, token: str, password: str, first_name: str | None,
                last_name: str | None, email: str | None) -> User:
        with self.ports.uow() as uow:
            invitation = self._pending(uow, token)
            self._check_address(invitation, email)
            holder = uow.users.get_by_email(invitation.email, lock=True)
            if holds(holder):
                raise ValidationFailed.single("email", LOG_IN_INSTEAD)
            errors: dict[str, list[str]] = {}
            names = {"first_name": collect(errors, lambda: clean_name(first_name, "first_name")),
                     "last_name": collect(errors, lambda: clean_name(last_name, "last_name"))}
            secret = collect(errors, lambda: self.new_password(password, [invitation.email]))
            if errors or secret is None:
                raise ValidationFailed(errors)
            if holder is not None:
                holder = claim_unproven_email(self, uow, holder, via="invitation")
            if holder is None:
                user = self._create(uow, invitation, secret, names)
            else:
                user = self._finish_signup(uow, holder, invitation, secret, names)
            uow.commit()
        # As a password reset does: the new password owes nothing to guesses made at the
        # address before it had an account, so they no longer hold its first login.
        self.ports.throttle.forget_failures(user.email)
        return user

    @staticmethod
    def _check_address(invitation: Invitation, email: str | None) -> None:
        if email and Email.parse(email).value != invitation.email:
            raise ValidationFailed.single("email", "This invitation is for a different address.")

    def _create(self, uow: UnitOfWork, invitation: Invitation, secret: str,
                names: dict[str, str | None]) -> User:
        now = self.now()
        user = uow.users.add(User(
            email=invitation.email, phone=None, password_hash=self.ports.passwords.hash(secret),
            first_name=names["first_name"] or "", last_name=names["last_name"] or "",
            is_staff=invitation.as_staff, created_at=now, password_changed_at=now,
        ))
        self.audit(uow, "user_created", user, via="invitation", invitation=invitation.id)
        return self._accepted(uow, invitation, user)

    def _finish_signup(self, uow: UnitOfWork, user: User, invitation: Invitation,
                       secret: str, names: dict[str, str | None]) -> User:
        """The invitee takes over a sign-up of their address that nothing ever proved:
        their password and names; the first registrant's password, tokens and sessions
        end (as a finish-signup reset does)."""
        user.set_password_hash(self.ports.passwords.hash(secret), self.now())
        user.first_name, user.last_name = names["first_name"] or "", names["last_name"] or ""
        user.is_staff = user.is_staff or invitation.as_staff
        self.tokens.revoke_all_in(uow, user, "password_changed")
        uow.users.save(user)
        return self._accepted(uow, invitation, user)

    def _accepted(self, uow: UnitOfWork, invitation: Invitation, user: User) -> User:
        now = self.now()
        self.verification.mark_verified(uow, user, Channel.EMAIL)
        invitation.accepted_at = now
        invitation.accepted_user_id = user.id
        uow.invitations.save(invitation)
        self.audit(uow, "invitation_accepted", user, invitation=invitation.id,
                   staff=invitation.as_staff)
        return user
