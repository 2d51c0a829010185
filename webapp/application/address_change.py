"""Changing an account's email address or phone number, and taking a change back.

Request (recent sign-in): the new address gets a link and code (email) or a code (SMS),
the previous one a notice; nothing changes yet, and the answer is the same when the new
address belongs to another account (whose owner is told someone tried). Confirm: the
new address is proven and replaces the old one, which gets a notice with an undo link
(``UNDO_TTL``). Undo (no sign-in: the link is the proof): the old address is back, the
password is new, every session ends, and the second factors added around the change go
(``UNDO_FACTOR_WINDOW``: a hijacker's passkey would sign in again on its own). An
address is removed the same way, at once, while another proven one stays. The Stripe
customer follows through the outbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from webapp.application.account_data import AccountDataService
from webapp.application.addresses import other_holder, tell_at, tell_previous, tell_taken
from webapp.application.common import Ports, Service
from webapp.application.interfaces import UnitOfWork
from webapp.application.mfa import MfaService
from webapp.application.tokens import TokenService
from webapp.domain.address_change import CHANGE_TTL, UNDO_TTL, AddressChange, removable
from webapp.domain.codes import clean_code
from webapp.domain.errors import AuthenticationRequired, InvalidToken, ValidationFailed
from webapp.domain.model import CodePurpose, MessageKind, User
from webapp.domain.values import Channel, Email, Phone, mask_address

CHANGE_PURPOSE = "address-change"
UNDO_PURPOSE = "address-undo"
REQUESTED = "If the new address can take it, a message to confirm it is on its way."
INVALID_LINK = "This link is invalid, expired or already used."
NO_PENDING = "There is no change waiting for a code. Ask for the change again."
FIELD = {Channel.EMAIL: "new_email", Channel.PHONE: "new_phone"}


class AddressChangeService(Service):
    def __init__(self, ports: Ports, tokens: TokenService, mfa: MfaService,
                 account_data: AccountDataService) -> None:
        super().__init__(ports)
        self.tokens = tokens
        self.mfa = mfa
        self.account_data = account_data  # a deletion the hijacker asked for is undone too

    # --- request ------------------------------------------------------------------------

    def request(self, user_id: int, channel: Channel, new: str | None,
                auth_time: datetime | None) -> None:
        """Ask to move ``channel`` to ``new`` (empty: remove the address). *Fresh*."""
        self.require_recent(auth_time)
        if not (new or "").strip():
            self._remove(user_id, channel)
            return
        value = self._parse(channel, new or "")
        email, phone = (Email(value), None) if channel is Channel.EMAIL else (None, Phone(value))
        self.ports.throttle.before_messages("verify_per_destination", email, phone,
                                            client=self.ports.request.current().ip)
        with self.ports.uow() as uow:
            user = self._user(uow, user_id)
            if user.address(channel) == value:
                raise ValidationFailed.single(FIELD[channel], "This is already your address.")
            self._supersede(uow, user.id or 0, channel)
            owner = other_holder(self, uow, user, channel, value, take=False)
            # Pending either way (the pages show it): a taken address never gets its proof.
            change = AddressChange.requested(user.id or 0, channel, user.address(channel),
                                             value, self.now())
            uow.address_changes.add(change)
            if owner is not None:
                tell_taken(self, uow, owner, channel, value)
            else:
                self._send_proof(uow, user, change)
            tell_previous(self, uow, user, channel, "address_change_requested",
                           {"new": mask_address(channel, value), "channel": channel.value,
                            "reset_link": self.policy.link("/reset")})
            self.audit(uow, "address_change_requested", user, channel=channel.value,
                       taken=owner is not None)
            uow.commit()

    def _parse(self, channel: Channel, raw: str) -> str:
        if channel is Channel.EMAIL:
            return Email.parse(raw, FIELD[channel], new=True).value
        return Phone.parse(raw, self.policy.default_region, FIELD[channel]).value

    def _send_proof(self, uow: UnitOfWork, user: User, change: AddressChange) -> None:
        channel, value = change.channel, change.new_value or ""
        purpose = CodePurpose.change(channel)
        if channel is Channel.EMAIL:
            code = self.issue_code(uow, user, purpose, value, CHANGE_TTL)
            token = self.ports.signer.dumps(CHANGE_PURPOSE, {"uid": user.id, "cid": change.id,
                                                             "to": value})
            self.send_email(uow, value, "email_change", {
                "link": self.policy.link(f"/account/email/confirm/{token}"), "code": code,
                "hours": int(CHANGE_TTL.total_seconds() // 3600)}, user)
        else:
            code = self.issue_code(uow, user, purpose, value, self.policy.sms_code_ttl)
            minutes = int(self.policy.sms_code_ttl.total_seconds() // 60)
            self.send_sms(uow, value, "phone_change", {"code": code, "minutes": minutes}, user,
                          prepaid=True)  # its unit: see before_messages

    def _remove(self, user_id: int, channel: Channel) -> None:
        with self.ports.uow() as uow:
            user = self._user(uow, user_id)
            old = user.address(channel)
            if not old:
                raise ValidationFailed.single(FIELD[channel], "There is no address to remove.")
            proven = {c: user.verified_at(c) is not None for c in Channel}
            if not removable(proven, channel):
                raise ValidationFailed.single(
                    FIELD[channel], "This is your only proven address: add and confirm "
                    "another one before removing it.")
            self._supersede(uow, user.id or 0, channel)
            change = AddressChange(user_id=user.id or 0, channel=channel, old_value=old,
                                   new_value=None, created_at=self.now(),
                                   expires_at=self.now())
            change.confirm(self.now(), proven[channel])
            uow.address_changes.add(change)
            user.drop_address(channel)
            uow.users.save(user)
            self._after_change(uow, user, change)
            uow.commit()

    # --- confirm ------------------------------------------------------------------------

    def confirm(self, user_id: int, channel: Channel, *, token: str | None = None,
                code: str | None = None) -> User:
        """The new address is proven (the emailed link or the code): it replaces the old."""
        if not token and not code:
            raise ValidationFailed.single("code", "Give the code, or the token from the link.")
        with self.ports.uow() as uow:
            user = self._user(uow, user_id)
            change = (self._by_token(uow, user, token) if token
                      else self._by_code(uow, user, channel, code or ""))
            value = change.new_value or ""
            if other_holder(self, uow, user, channel, value, take=True) is not None:
                raise ValidationFailed.single(
                    FIELD[channel], "This address now belongs to another account.")
            proven_old = user.verified_at(channel) is not None
            user.set_address(channel, value, self.now())
            uow.users.save(user)
            change.confirm(self.now(), proven_old)
            uow.address_changes.save(change)
            self._after_change(uow, user, change)
            uow.commit()
            return user

    def link_change(self, user_id: int, token: str) -> AddressChange:
        """The change the emailed link would confirm now (InvalidToken if none): reads only."""
        with self.ports.uow() as uow:
            return self._link_change(uow, user_id, token)

    def _link_change(self, uow: UnitOfWork, user_id: int, token: str) -> AddressChange:
        payload = self._payload(CHANGE_PURPOSE, token, CHANGE_TTL)
        change = uow.address_changes.get(int(payload.get("cid") or 0))
        if (change is None or payload.get("uid") != user_id or change.user_id != user_id
                or payload.get("to") != change.new_value or not change.is_pending(self.now())):
            raise InvalidToken(INVALID_LINK)
        return change

    def _by_token(self, uow: UnitOfWork, user: User, token: str) -> AddressChange:
        change = self._link_change(uow, user.id or 0, token)
        record = uow.codes.latest(user.id or 0, [CodePurpose.change(change.channel)])
        if record is not None and record.consumed_at is None:  # the code went with the link
            record.consumed_at = self.now()
            uow.codes.save(record)
        return change

    def _by_code(self, uow: UnitOfWork, user: User, channel: Channel,
                 code: str) -> AddressChange:
        code = clean_code(code)
        pending = [c for c in uow.address_changes.for_user(user.id or 0, channel)
                   if c.is_pending(self.now())]
        try:
            record = self.check_code(uow, user, [CodePurpose.change(channel)], code,
                                     consume=True)
        except InvalidToken as exc:
            uow.commit_and_raise(exc)  # the wrong try counts
        change = next((c for c in pending if c.new_value == record.destination), None)
        if change is None:
            raise InvalidToken(NO_PENDING, code="invalid_code")
        return change

    def _after_change(self, uow: UnitOfWork, user: User, change: AddressChange) -> None:
        """The previous address is told, with an undo link when it was proven; the Stripe
        customer gets the new addresses."""
        context = {"new": mask_address(change.channel, change.new_value or ""),
                   "removed": change.new_value is None, "channel": change.channel.value}
        if change.undo_until is not None:
            token = self.ports.signer.dumps(UNDO_PURPOSE, {"uid": user.id, "cid": change.id,
                                                           "old": change.old_value})
            context |= {"undo_link": self.policy.link(f"/account/undo/{token}"),
                        "days": UNDO_TTL.days}
        told, to = change.channel, change.old_value
        if change.undo_until is None:  # added, or from an unproven one: a proven one hears
            other = next((c for c in Channel if c is not change.channel and user.verified_at(c)),
                         None)
            told, to = (other, user.address(other)) if other is not None else (told, to)
        tell_at(self, uow, user, told, to or user.address(told), "address_changed", context)
        self.audit(uow, "address_changed", user, channel=change.channel.value,
                   removed=change.new_value is None)
        self.queue_customer_update(uow, user, f"change-{change.id}")

    # --- undo ---------------------------------------------------------------------------

    def undo(self, token: str, new_password: str, confirm_password: str) -> User:
        """From the previous address's notice: it is back, the password is new, every
        session and token of the account ends, and so do the second factors added around
        the change and a deletion the account's user asked for since."""
        payload = self._payload(UNDO_PURPOSE, token, UNDO_TTL)
        if new_password != confirm_password:
            raise ValidationFailed.single("confirm_password", "The two passwords differ.")
        with self.ports.uow() as uow:
            change, user = self._undo_target(uow, payload, act=True)
            old = change.old_value or ""
            secret = self.new_password(new_password, [old, *user.identities()],
                                       "new_password")
            user.set_address(change.channel, old, self.now())
            for added in uow.address_changes.for_user(user.id or 0):
                if (added.channel is not change.channel and added.added_lately(self.now())
                        and user.address(added.channel) == added.new_value):
                    user.drop_address(added.channel)
            user.set_password_hash(self.ports.passwords.hash(secret), self.now())
            uow.users.save(user)
            cancelled = self.account_data.cancel_hijackers_deletion(uow, user, change.created_at)
            change.undone_at = self.now()
            uow.address_changes.save(change)
            for later in uow.address_changes.for_user(user.id or 0, change.channel):
                if later.stop_undo_after(change, self.now()):  # a hijacker's own undo link
                    uow.address_changes.save(later)
            self._supersede(uow, user.id or 0, None)
            self.tokens.revoke_all_in(uow, user, reason="address_change_undone")
            # A hijacker's passkey signs in alone, their app or codes lock the owner out:
            # none added around the change outlives the undo (the notice says so).
            removed = self.mfa.remove_all(uow, user, "mfa_turned_off_by_undo", None,
                                          since=change.factors_since())
            self.audit(uow, "address_change_undone", user, channel=change.channel.value,
                       factors_removed=removed, deletion_cancelled=cancelled)
            tell_at(self, uow, user, change.channel, old, "password_changed", {
                "reset_link": self.policy.link("/reset"), "factors_removed": bool(removed),
                "deletion_cancelled": cancelled,
                "security_link": self.policy.link("/account/security")})
            self.queue_customer_update(uow, user, f"undo-{change.id}")
            uow.commit()
        if not user.has_second_factor:  # as a password reset (password_reset.py) does
            self.ports.throttle.forget_failures(user.email, user.phone)
        return user

    def check_undo(self, token: str) -> None:
        """Whether ``undo`` would honour the link now (InvalidToken if not): reads only."""
        with self.ports.uow() as uow:
            self._undo_target(uow, self._payload(UNDO_PURPOSE, token, UNDO_TTL), act=False)

    def _payload(self, purpose: str, token: str, ttl: timedelta) -> dict:
        try:
            return self.ports.signer.loads(purpose, token, int(ttl.total_seconds()))
        except InvalidToken as exc:
            raise InvalidToken(INVALID_LINK) from exc

    def _undo_target(self, uow: UnitOfWork, payload: dict, *, act: bool
                     ) -> tuple[AddressChange, User]:
        """The change and user of an undo link; ``act``: locked, and the old address taken."""
        change = uow.address_changes.get(int(payload.get("cid") or 0))
        user = uow.users.get(int(payload.get("uid") or 0), lock=act)
        if (change is None or user is None or change.user_id != user.id
                or payload.get("old") != change.old_value or not change.can_undo(self.now())):
            raise InvalidToken(INVALID_LINK)
        if other_holder(self, uow, user, change.channel, change.old_value or "",
                        take=act) is not None:
            raise InvalidToken("The previous address now belongs to another account.")
        return change, user

    # --- shared -------------------------------------------------------------------------

    def queue_customer_update(self, uow: UnitOfWork, user: User, key: str) -> None:
        """The Stripe customer (if any, by then) gets the account's current addresses."""
        if user.stripe_customer_id or user.is_verified:
            self.enqueue(uow, MessageKind.CUSTOMER_UPDATE, user, {"user_id": user.id},
                         idempotency_key=f"customer-update-{user.id}-{key}")

    def pending(self, user_id: int, channel: Channel) -> AddressChange | None:
        """The change waiting for its proof, if any (the pages show it)."""
        with self.ports.uow() as uow:
            changes = uow.address_changes.for_user(user_id, channel)
        return next((c for c in changes if c.is_pending(self.now())), None)

    def _user(self, uow: UnitOfWork, user_id: int) -> User:
        user = uow.users.get(user_id, lock=True)
        if user is None or not user.is_active:
            raise AuthenticationRequired("The session has ended.")
        return user

    def _supersede(self, uow: UnitOfWork, user_id: int, channel: Channel | None) -> None:
        """One pending change at a time: a newer request (or an undo) ends the others."""
        for change in uow.address_changes.for_user(user_id, channel):
            if change.is_pending(self.now()):
                change.cancelled_at = self.now()
                uow.address_changes.save(change)
