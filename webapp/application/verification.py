"""Proving an address: the emailed link or code, the SMS code, and resending them."""

from __future__ import annotations

from collections.abc import Callable

from webapp.application.common import Service, find_user, parse_identifier
from webapp.application.interfaces import UnitOfWork
from webapp.domain.codes import clean_code, refuse_code_as_token
from webapp.domain.errors import InvalidToken, OwnerSignInRequired
from webapp.domain.model import CodePurpose, MessageKind, OneTimeCode, User
from webapp.domain.values import Channel, Email, Phone

EMAIL_LINK_PURPOSE = "verify-email"
INVALID_LINK = "This verification link is invalid or has expired. Request a new one."


class VerificationService(Service):
    # What a resend sends instead, once the address has been told to finish signing up
    # (``PasswordResetService.send_finish_signup``, set by ``wire_services``): see ``_resend``.
    finish_signup: Callable[..., None] | None = None

    # --- sending ---------------------------------------------------------------------

    def send_verification(self, uow: UnitOfWork, user: User, channel: Channel, *,
                          prepaid: bool = False) -> None:
        """Email: one message with both a link and a code. Phone: an SMS code (``prepaid``:
        see ``sms_slot``). Any earlier code of that channel dies, once a new one is sent."""
        if channel is Channel.EMAIL:
            self._send_email_verification(uow, user)
        else:
            self._send_phone_verification(uow, user, prepaid)

    def _send_email_verification(self, uow: UnitOfWork, user: User) -> None:
        assert user.email is not None
        code = self.issue_code(
            uow, user, CodePurpose.VERIFY_EMAIL, user.email, self.policy.email_code_ttl
        )
        token = self.ports.signer.dumps(EMAIL_LINK_PURPOSE, {"uid": user.id,
                                                             "email": user.email})
        self.send_email(uow, user.email, "verify", {
            "link": self.policy.link(f"/verify/{token}"), "code": code,
            "hours": int(self.policy.email_code_ttl.total_seconds() // 3600),
        }, user)

    def _send_phone_verification(self, uow: UnitOfWork, user: User, prepaid: bool) -> None:
        assert user.phone is not None
        if not self.sms_slot(uow, user, "verify", prepaid=prepaid):
            return  # the live code stays
        code = self.issue_code(
            uow, user, CodePurpose.VERIFY_PHONE, user.phone, self.policy.sms_code_ttl
        )
        self.send_sms(uow, user.phone, "verify", {
            "code": code, "minutes": int(self.policy.sms_code_ttl.total_seconds() // 60),
        }, user, prepaid=True)

    def resend_email(self, email: str) -> None:
        """The same answer for every address; only an unverified owner gets a message,
        and not within ``policy.resend_cooldown`` of the previous one."""
        self._resend(Email.parse(email), None)

    def resend_phone(self, phone: str) -> None:
        """As ``resend_email``, by SMS."""
        self._resend(None, Phone.parse(phone, self.policy.default_region))

    def resend(self, email: str | None, phone: str | None) -> None:
        """One "email or phone" box (the pages): as ``resend_email`` or ``resend_phone``."""
        self._resend(*parse_identifier(email, phone, self.policy.default_region))

    def _resend(self, address: Email | None, number: Phone | None) -> None:
        channel = Channel.EMAIL if address is not None else Channel.PHONE
        self.ports.throttle.before_messages("verify_per_destination", address, number,
                                            client=self.ports.request.current().ip)
        with self.ports.uow() as uow:
            user = find_user(uow, address, number, lock=True)
            waiting = user is not None and user.is_active and user.verified_at(channel) is None
            latest = uow.codes.latest(user.id or 0, [CodePurpose.verify(channel),
                                                     CodePurpose.reset(channel)]) \
                if user is not None and waiting else None
            if user is not None and waiting and not self._cooling_down(latest):
                if self._finishing_signup(user, latest) and self.finish_signup is not None:
                    self.finish_signup(uow, user, channel, prepaid=True)
                else:
                    self.send_verification(uow, user, channel, prepaid=True)
            elif channel is Channel.EMAIL:
                self.rehearse("email", "verify", {"hours": 24})
            else:
                self.rehearse("sms", "verify", {"minutes": 10})
            self._audit_resend(uow, user, channel.value)
            uow.commit()

    @staticmethod
    def _finishing_signup(user: User, latest: OneTimeCode | None) -> bool:
        """Nothing on the account is proven and the address's newest code is a reset: a
        registration of the address was told to finish signing up by choosing the password
        (or someone asked for a reset). A verification now would prove the account under
        the password of whoever registered first, who may be waiting for the address's
        owner to click (account pre-hijacking): a resend sends the reset again instead."""
        return (not user.is_verified and latest is not None
                and latest.purpose in (CodePurpose.RESET_EMAIL, CodePurpose.RESET_PHONE))

    def _audit_resend(self, uow: UnitOfWork, user: User | None, channel: str) -> None:
        """Every resend is recorded, sent or not: the same write whether or not the
        address has an account (no timing difference), and floods show in the log."""
        self.audit(uow, "user_verification_resend", user, channel=channel)

    def _cooling_down(self, latest: OneTimeCode | None) -> bool:
        """The previous message of this kind went out within ``policy.resend_cooldown``."""
        if not self.policy.resend_cooldown:
            return False
        return latest is not None and self.now() - latest.created_at < self.policy.resend_cooldown

    # --- verifying -------------------------------------------------------------------

    def verify_email_token(self, token: str, *, actor_id: int | None = None) -> User:
        """The emailed link. Bound to the address it was sent to; verifying twice is harmless.

        ``actor_id`` is the signed-in user, if any: see ``require_owner``."""
        with self.ports.uow() as uow:
            user = self._link_user(uow, token, lock=True)
            if user.email_verified_at is None:
                self.require_owner(uow, user, actor_id, Channel.EMAIL)
            self.mark_verified(uow, user, Channel.EMAIL)
            uow.commit()
            return user

    def check_email_token(self, token: str) -> None:
        """Whether ``verify_email_token`` would take the link now (InvalidToken if not; who
        is signed in aside, which its page settles). Reads only: nothing spent or audited."""
        with self.ports.uow() as uow:
            self._link_user(uow, token, lock=False)

    def _link_user(self, uow: UnitOfWork, token: str, *, lock: bool) -> User:
        refuse_code_as_token(token, '"email"')
        payload = self.ports.signer.loads(
            EMAIL_LINK_PURPOSE, token, int(self.policy.email_code_ttl.total_seconds())
        )
        user = uow.users.get(int(payload.get("uid", 0)), lock=lock)
        if user is None or not user.is_active or user.email != payload.get("email"):
            raise InvalidToken(INVALID_LINK)
        return user

    def verify_email_code(self, email: str, code: str, *,
                          actor_id: int | None = None) -> User | None:
        """The user, now verified; None when this address was already verified with this
        very code (a repeat is harmless, and shows nothing to whoever sent it).

        ``actor_id`` is the signed-in user, if any: see ``require_owner``."""
        return self._verify_code(Email.parse(email), None, code, actor_id=actor_id)

    def verify_phone_code(self, phone: str, code: str, *,
                          actor_id: int | None = None) -> User | None:
        """As ``verify_email_code``, for the SMS code."""
        number = Phone.parse(phone, self.policy.default_region)
        return self._verify_code(None, number, code, actor_id=actor_id)

    def verify_code(self, email: str | None, phone: str | None, code: str, *,
                    actor_id: int | None = None) -> User | None:
        """One "email or phone" box (the pages): as ``verify_email_code`` or
        ``verify_phone_code``; neither given is said of both, not as a missing email."""
        address, number = parse_identifier(email, phone, self.policy.default_region)
        return self._verify_code(address, number, code, actor_id=actor_id)

    def _verify_code(self, address: Email | None, number: Phone | None, code: str, *,
                     actor_id: int | None) -> User | None:
        channel = Channel.EMAIL if address is not None else Channel.PHONE
        code = clean_code(code)
        with self.ports.uow() as uow:
            user = find_user(uow, address, number, lock=True)
            if user is not None and not user.is_active:
                user = None
            try:
                # A wrong try counts on a spent code too: the repeat below is no oracle. A
                # code sent to an address the account has since left proves nothing.
                record = self.match_code(uow, user, [CodePurpose.verify(channel)], code,
                                         to=user.address(channel) if user else None)
                assert user is not None
                proven = user.verified_at(channel)
                if record.consumed_at is not None and proven is not None:
                    return None  # the same right code twice: harmless
                self.use_code(uow, record, consume=False)  # spent or expired: refused as ever
                if proven is None:
                    # Only a right, live code gets this far: the refusal is no oracle.
                    self.require_owner(uow, user, actor_id, channel)
                self.use_code(uow, record, consume=True)
            except InvalidToken as exc:
                uow.commit_and_raise(exc)  # keep the counted wrong try
            self.mark_verified(uow, user, channel)
            uow.commit()
            return user

    def require_owner(self, uow: UnitOfWork, user: User, actor_id: int | None,
                      channel: Channel) -> None:
        """A right code or link proves possession of the address, nothing about the account.
        The account's first proven address makes it theirs (registration and the finish
        sign-up reset settle who that is); an address added beside a proven one is proven
        only by the account's owner, signed in. Otherwise whoever owns a mistyped address
        would verify it and reset the password through it (account takeover).

        The refusal spends nothing and counts no wrong try: signed in, the same code works.
        Its ``authz_fail`` event is committed first.
        """
        if not user.is_verified or actor_id == user.id:
            return
        actor = uow.users.get(actor_id) if actor_id is not None else None
        self.audit(uow, "authz_fail", user, actor=actor, action="verify_added_address",
                   channel=channel.value, signed_in=actor_id is not None)
        uow.commit_and_raise(OwnerSignInRequired())

    def mark_verified(self, uow: UnitOfWork, user: User, channel: Channel) -> None:
        """The address counts as proven (also for staff and invitations); Stripe customer queued."""
        if user.verified_at(channel) is not None:
            return
        first = user.mark_verified(channel, self.now())
        uow.users.save(user)
        self.audit(uow, "user_verified", user, channel=channel.value)
        if first:
            self.queue_stripe_customer(uow, user)

    def queue_stripe_customer(self, uow: UnitOfWork, user: User) -> None:
        """Queued in the verification's transaction; delivered (exactly once) after commit.
        With billing off, nothing: ``flask billing backfill`` makes the customer later."""
        if user.stripe_customer_id or not self.policy.billing_enabled:
            return
        self.enqueue(
            uow, MessageKind.STRIPE_CUSTOMER, user, {"user_id": user.id},
            idempotency_key=f"customer-create-{user.id}",
        )

