"""Password reset by emailed link or by code (email or SMS): request, check, confirm.

A reset link carries a fingerprint of the user's uniquifier and password hash,
so it dies the moment the password changes: single use without a token table.

A completed reset proves the address it went through (the link or code reached it),
so that address counts as verified afterwards. The same link and code, worded as
"finish signing up", answer a registration of an address held by an account with
nothing verified: its recipient chooses the password, and whoever registered the
address first loses the account (their password and sessions die with the reset).
"""

from __future__ import annotations

from webapp.application.common import (
    Ports,
    Service,
    find_user,
    parse_identifier,
)
from webapp.application.interfaces import UnitOfWork
from webapp.application.tokens import TokenService
from webapp.application.verification import VerificationService
from webapp.domain.codes import ENTER_CODE, clean_code, refuse_code_as_token
from webapp.domain.errors import InvalidToken, ValidationFailed
from webapp.domain.model import CodePurpose, User
from webapp.domain.values import Channel

RESET_PURPOSE = "password-reset"
RESET_PURPOSES = (CodePurpose.RESET_EMAIL, CodePurpose.RESET_PHONE)
INVALID_LINK = "This reset link is invalid, expired or already used. Request a new one."


class PasswordResetService(Service):
    def __init__(self, ports: Ports, tokens: TokenService,
                 verification: VerificationService) -> None:
        super().__init__(ports)
        self.tokens = tokens
        self.verification = verification

    def request(self, *, email: str | None, phone: str | None) -> None:
        """Send a link and code (email) or a code (SMS). The same answer for every address."""
        address, number = parse_identifier(email, phone, self.policy.default_region)
        channel = Channel.EMAIL if address is not None else Channel.PHONE
        self.ports.throttle.before_messages("reset_per_destination", address, number,
                                            client=self.ports.request.current().ip)
        with self.ports.uow() as uow:
            user = find_user(uow, address, number)
            if user is None or not user.is_active or not user.vouches_for(channel):
                # Recorded too (no address kept): abuse shows in the audit log, and the
                # answer costs the same write as a real request (no timing difference).
                self.audit(uow, "authn_password_reset_requested", None,
                           channel=channel.value, account="none")
                self.rehearse(channel.messages, "reset", {"minutes": 60})
                uow.commit()
                return
            self._send(uow, user, channel, prepaid=True)
            self.audit(uow, "authn_password_reset_requested", user, channel=channel.value)
            uow.commit()

    def send_reset(self, uow: UnitOfWork, user: User, channel: Channel, *,
                   prepaid: bool = False) -> None:
        """For staff actions: on ``channel``, an address that may reset (see
        ``User.notice_channel``). ``prepaid``: see ``sms_slot``."""
        self._send(uow, user, channel, prepaid=prepaid)

    def send_finish_signup(self, uow: UnitOfWork, user: User, channel: Channel, *,
                           prepaid: bool = False) -> None:
        """A registration named this address of an account with nothing verified: its
        recipient may finish signing up by choosing the password (a reset, worded so).

        Not a verification of the account as it is: that would leave it under the
        password of whoever registered the address first."""
        self._send(uow, user, channel, "finish_signup", prepaid=prepaid)

    def _send(self, uow: UnitOfWork, user: User, channel: Channel,
              template: str = "reset", *, prepaid: bool = False) -> None:
        if channel is Channel.EMAIL:
            self._send_email(uow, user, template)
        else:
            self._send_sms(uow, user, template, prepaid)

    def _send_email(self, uow: UnitOfWork, user: User, template: str = "reset") -> None:
        assert user.email is not None
        code = self.issue_code(uow, user, CodePurpose.RESET_EMAIL, user.email,
                               self.policy.reset_ttl)
        # The address rides along: the link works only while it is still the user's.
        token = self.ports.signer.dumps(RESET_PURPOSE, {"uid": user.id, "email": user.email,
                                                      "fp": user.password_fingerprint()})
        self.send_email(uow, user.email, template, {
            "link": self.policy.link(f"/reset/{token}"), "code": code,
            "code_link": self.policy.link("/reset/code"),
            "minutes": int(self.policy.reset_ttl.total_seconds() // 60),
        }, user)

    def _send_sms(self, uow: UnitOfWork, user: User, template: str, prepaid: bool) -> None:
        assert user.phone is not None
        if not self.sms_slot(uow, user, template, prepaid=prepaid):
            return  # the live code stays
        ttl = min(self.policy.sms_code_ttl, self.policy.reset_ttl)
        code = self.issue_code(uow, user, CodePurpose.RESET_PHONE, user.phone, ttl)
        self.send_sms(uow, user.phone, template, {
            "code": code, "minutes": int(ttl.total_seconds() // 60),
            "link": self.policy.link("/reset/code"),  # where the code goes
        }, user, prepaid=True)

    def check(self, *, token: str | None = None, email: str | None = None,
              phone: str | None = None, code: str | None = None) -> User:
        """Whether the token or code would reset a password now (a wrong code is counted)."""
        with self.ports.uow() as uow:
            user, _ = self._redeem(uow, token, email, phone, code)
            uow.commit()
            return user

    def confirm(self, *, new_password: str, confirm_password: str, token: str | None = None,
                email: str | None = None, phone: str | None = None,
                code: str | None = None) -> User:
        """Set the new password; the token or code is spent and every session revoked.

        The address the token or code went to is proven: verified now, with what a first
        verification brings (the Stripe customer) when the account had nothing verified.
        """
        if new_password != confirm_password:
            raise ValidationFailed.single("confirm_password", "The two passwords differ.")
        with self.ports.uow() as uow:
            user, proven = self._redeem(uow, token, email, phone, code)
            # A refused password leaves the code unspent: nothing is committed.
            secret = self.new_password(new_password, user.identities(), "new_password")
            self._spend_codes(uow, user)
            user.set_password_hash(self.ports.passwords.hash(secret), self.now())
            uow.users.save(user)
            self.tokens.revoke_all_in(uow, user, reason="password_reset")
            self.audit(uow, "authn_password_reset_done", user)
            if proven is not None:
                self.verification.mark_verified(uow, user, proven)
            self._notify_changed(uow, user)
            uow.commit()
        if not user.has_second_factor:
            # Lifts a login lockout. Not with a second factor on: the lockout also counts
            # the guesses at the factor, and a reset proves only the mailbox or phone.
            self.ports.throttle.forget_failures(user.email, user.phone)
        return user

    def _redeem(self, uow: UnitOfWork, token: str | None, email: str | None,
                phone: str | None, code: str | None) -> tuple[User, Channel | None]:
        """The user, and which address the token or code proves: the one it was sent to,
        which must still be the user's."""
        if token:
            refuse_code_as_token(token, '"email" or "phone"')
            return self._user_for_token(uow, token)
        if not code and (email or phone):  # the code form (a page's), its code left out
            raise ValidationFailed.single("code", ENTER_CODE)
        if not code:
            raise ValidationFailed.single("token", "Give the token from the link, or a code.")
        address, number = parse_identifier(email, phone, self.policy.default_region)
        channel = Channel.EMAIL if address is not None else Channel.PHONE
        # Locked, as for a verification code: parallel tries are counted one after another
        # (each reads the count the previous one wrote), so a burst costs every try it makes.
        user = find_user(uow, address, number, lock=True)
        if user is not None and (not user.is_active or not user.vouches_for(channel)):
            user = None
        try:
            # Like the link's fingerprint: a code dies when the password changes.
            # Nor does one sent to an address the account has since left.
            self.check_code(uow, user, [CodePurpose.reset(channel)], clean_code(code),
                            consume=False, since=user.password_changed_at if user else None,
                            to=user.address(channel) if user else None)
        except InvalidToken as exc:
            uow.commit_and_raise(exc)  # the wrong try counts
        assert user is not None
        return user, channel

    def _user_for_token(self, uow: UnitOfWork, token: str) -> tuple[User, Channel | None]:
        try:
            payload = self.ports.signer.loads(RESET_PURPOSE, token,
                                              int(self.policy.reset_ttl.total_seconds()))
        except InvalidToken as exc:
            raise InvalidToken(INVALID_LINK) from exc
        user = uow.users.get(int(payload.get("uid", 0)), lock=True)
        # The address it went to must still be the account's: an address changed away
        # from (one broken into, say) resets nothing any more. And it must still vouch
        # for the account, as for a code: a link sent while nothing was proven dies once
        # another address is, or a mistyped email's owner would take the account over.
        if (user is None or not user.is_active or user.email is None
                or payload.get("fp") != user.password_fingerprint()
                or payload.get("email") != user.email
                or not user.vouches_for(Channel.EMAIL)):
            raise InvalidToken(INVALID_LINK)
        return user, Channel.EMAIL

    def _spend_codes(self, uow: UnitOfWork, user: User) -> None:
        """Spend the live code of each channel: only the newest per purpose counts."""
        for purpose in RESET_PURPOSES:
            record = uow.codes.latest(user.id or 0, [purpose])
            if record is not None and record.consumed_at is None:
                record.consumed_at = self.now()
                uow.codes.save(record)

    def _notify_changed(self, uow: UnitOfWork, user: User) -> None:
        self.tell(uow, user, "password_changed", {"reset_link": self.policy.link("/reset")})

