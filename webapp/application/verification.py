"""Proving an address: the emailed link or code, the SMS code, and resending them."""

from __future__ import annotations

from webapp.application.common import Kit, clean_code
from webapp.application.interfaces import UnitOfWork
from webapp.domain.codes import refuse_code_as_token
from webapp.domain.errors import InvalidToken, OwnerSignInRequired
from webapp.domain.model import CodePurpose, MessageKind, User
from webapp.domain.values import Email, Phone

EMAIL_LINK_PURPOSE = "verify-email"
INVALID_LINK = "This verification link is invalid or has expired. Request a new one."


class VerificationService(Kit):
    # --- sending ---------------------------------------------------------------------

    def send_email_verification(self, uow: UnitOfWork, user: User) -> None:
        """One email with both a link and a code; any earlier code dies."""
        assert user.email is not None
        code = self.issue_code(
            uow, user, CodePurpose.VERIFY_EMAIL, user.email, self.policy.email_code_ttl
        )
        token = self.kit.signer.dumps(EMAIL_LINK_PURPOSE, {"uid": user.id, "email": user.email})
        self.send_email(uow, user.email, "verify", {
            "link": self.policy.link(f"/verify/{token}"), "code": code,
            "hours": int(self.policy.email_code_ttl.total_seconds() // 3600),
        }, user)

    def send_phone_verification(self, uow: UnitOfWork, user: User) -> None:
        assert user.phone is not None
        code = self.issue_code(
            uow, user, CodePurpose.VERIFY_PHONE, user.phone, self.policy.sms_code_ttl
        )
        self.send_sms(uow, user.phone, "verify", {
            "code": code, "minutes": int(self.policy.sms_code_ttl.total_seconds() // 60),
        }, user)

    def resend_email(self, email: str) -> None:
        """The same answer for every address; only an unverified owner gets a message,
        and not within ``policy.resend_cooldown`` of the previous one."""
        address = Email.parse(email)
        self.kit.throttle.before_messages("verify_per_destination", address, None)
        with self.kit.uow() as uow:
            user = uow.users.get_by_email(address.value, lock=True)
            if (user is not None and user.is_active and user.email_verified_at is None
                    and not self._cooling_down(uow, user, CodePurpose.VERIFY_EMAIL)):
                self.send_email_verification(uow, user)
            else:
                self.rehearse("email", "verify", {"hours": 24})
            self._audit_resend(uow, user, "email")
            uow.commit()

    def resend_phone(self, phone: str) -> None:
        number = Phone.parse(phone, self.policy.default_region)
        self.kit.throttle.before_messages("verify_per_destination", None, number)
        with self.kit.uow() as uow:
            user = uow.users.get_by_phone(number.value, lock=True)
            if (user is not None and user.is_active and user.phone_verified_at is None
                    and not self._cooling_down(uow, user, CodePurpose.VERIFY_PHONE)):
                self.send_phone_verification(uow, user)
            else:
                self.rehearse("sms", "verify", {"minutes": 10})
            self._audit_resend(uow, user, "phone")
            uow.commit()

    def _audit_resend(self, uow: UnitOfWork, user: User | None, channel: str) -> None:
        """Every resend is recorded, sent or not: the same write whether or not the
        address has an account (no timing difference), and floods show in the log."""
        self.audit(uow, "user_verification_resend", user, channel=channel)

    def _cooling_down(self, uow: UnitOfWork, user: User, purpose: CodePurpose) -> bool:
        if not self.policy.resend_cooldown:
            return False
        record = uow.codes.latest(user.id or 0, [purpose])
        return record is not None and self.now() - record.created_at < self.policy.resend_cooldown

    # --- verifying -------------------------------------------------------------------

    def verify_email_token(self, token: str, *, actor_id: int | None = None) -> User:
        """The emailed link. Bound to the address it was sent to; verifying twice is harmless.

        ``actor_id`` is the signed-in user, if any: see ``require_owner``."""
        refuse_code_as_token(token, '"email"')
        payload = self.kit.signer.loads(
            EMAIL_LINK_PURPOSE, token, int(self.policy.email_code_ttl.total_seconds())
        )
        with self.kit.uow() as uow:
            user = uow.users.get(int(payload.get("uid", 0)), lock=True)
            if user is None or not user.is_active or user.email != payload.get("email"):
                raise InvalidToken(INVALID_LINK)
            if user.email_verified_at is None:
                self.require_owner(uow, user, actor_id, channel="email")
            self.mark_verified(uow, user, email=True)
            uow.commit()
            return user

    def verify_email_code(self, email: str, code: str, *,
                          actor_id: int | None = None) -> User | None:
        """The user, now verified; None when this address was already verified with this
        very code (a repeat is harmless, and shows nothing to whoever sent it).

        ``actor_id`` is the signed-in user, if any: see ``require_owner``."""
        address = Email.parse(email)
        return self._verify_code(
            lambda uow: uow.users.get_by_email(address.value, lock=True),
            CodePurpose.VERIFY_EMAIL, code, email=True, actor_id=actor_id,
        )

    def verify_phone_code(self, phone: str, code: str, *,
                          actor_id: int | None = None) -> User | None:
        """As ``verify_email_code``, for the SMS code."""
        number = Phone.parse(phone, self.policy.default_region)
        return self._verify_code(
            lambda uow: uow.users.get_by_phone(number.value, lock=True),
            CodePurpose.VERIFY_PHONE, code, email=False, actor_id=actor_id,
        )

    def _verify_code(self, load, purpose: CodePurpose, code: str, *, email: bool,  # noqa: ANN001
                     actor_id: int | None) -> User | None:
        code = clean_code(code)
        with self.kit.uow() as uow:
            user = load(uow)
            if user is not None and not user.is_active:
                user = None
            try:
                # A wrong try counts on a spent code too: the repeat below is no oracle.
                record = self.match_code(uow, user, [purpose], code)
                assert user is not None
                proven = user.email_verified_at if email else user.phone_verified_at
                if record.consumed_at is not None and proven is not None:
                    return None  # the same right code twice: harmless
                self.use_code(uow, record, consume=False)  # spent or expired: refused as ever
                if proven is None:
                    # Only a right, live code gets this far: the refusal is no oracle.
                    self.require_owner(uow, user, actor_id, channel="email" if email else "phone")
                self.use_code(uow, record, consume=True)
            except InvalidToken:
                uow.commit()  # keep the counted wrong try
                raise
            self.mark_verified(uow, user, email=email)
            uow.commit()
            return user

    def require_owner(self, uow: UnitOfWork, user: User, actor_id: int | None, *,
                      channel: str) -> None:
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
                   channel=channel, signed_in=actor_id is not None)
        uow.commit()
        raise OwnerSignInRequired()

    def mark_verified(self, uow: UnitOfWork, user: User, *, email: bool) -> None:
        """The address counts as proven (also for staff and invitations); Stripe customer queued."""
        now = self.now()
        was = user.email_verified_at if email else user.phone_verified_at
        first = user.mark_email_verified(now) if email else user.mark_phone_verified(now)
        if was is not None:
            return
        uow.users.save(user)
        self.audit(uow, "user_verified", user, channel="email" if email else "phone")
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

