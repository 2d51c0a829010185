"""Registration, profile and password changes."""

from __future__ import annotations

from datetime import datetime

from webapp.application.account_data import deletion_notice
from webapp.application.addresses import release, tell_at
from webapp.application.common import Ports, Service, collect
from webapp.application.interfaces import UniqueConflict, UnitOfWork
from webapp.application.password_reset import PasswordResetService
from webapp.application.tokens import TokenService
from webapp.application.verification import VerificationService
from webapp.domain.errors import InvalidCredentials, RegistrationClosed, ValidationFailed
from webapp.domain.model import User
from webapp.domain.passwords import normalize_password
from webapp.domain.values import Channel, Email, Phone, clean_name

REGISTERED = "Check your email or phone to verify your account."
WRONG_CURRENT = "The current password is wrong."
ENTER_CURRENT = "Enter your current password."


class AccountService(Service):
    def __init__(
        self, ports: Ports, verification: VerificationService, tokens: TokenService,
        resets: PasswordResetService,
    ) -> None:
        super().__init__(ports)
        self.verification = verification
        self.tokens = tokens
        self.resets = resets

    def register(
        self, *, email: str | None, phone: str | None, password: str,
        first_name: str | None = None, last_name: str | None = None,
    ) -> None:
        """Create the account and send verification; never tells whether the address existed.

        An address that is taken gets a message to its owner instead, and the
        caller sees exactly what a new registration sees, in about the same time.
        """
        if not self.policy.registration_open:
            raise RegistrationClosed()
        address, number, secret, names = self._validate(email, phone, password, first_name,
                                                        last_name)
        self.ports.throttle.before_messages("verify_per_destination", address, number,
                                            client=self.ports.request.current().ip)
        # Hashed before the unit of work opens, for a taken address too (same time): on
        # SQLite its first statement takes the write lock (BEGIN IMMEDIATE), and a hash
        # made inside it would make every worker wait for it.
        password_hash = self.ports.passwords.hash(secret)
        try:
            self._register(address, number, password_hash, names)
        except UniqueConflict:
            # A concurrent registration of the same address won the unique constraint.
            self._register(address, number, password_hash, names)

    def _validate(self, email, phone, password, first_name, last_name):  # noqa: ANN001, ANN202
        """Every field checked; all problems reported together."""
        errors: dict[str, list[str]] = {}
        if not email and not phone:
            missing = "Give an email address, a phone number or both."
            errors.update(email=[missing], phone=[missing])
        address = collect(errors, lambda: Email.parse(email, new=True)) if email else None
        number = (
            collect(errors, lambda: Phone.parse(phone, self.policy.default_region))
            if phone else None
        )
        names = {
            "first_name": collect(errors, lambda: clean_name(first_name, "first_name")) or "",
            "last_name": collect(errors, lambda: clean_name(last_name, "last_name")) or "",
        }
        identities = [str(v) for v in (address, number) if v] or [v for v in (email, phone) if v]
        secret = collect(errors, lambda: self.new_password(password, identities))
        if errors:
            raise ValidationFailed(errors)
        return address, number, secret, names

    def _register(
        self, address: Email | None, number: Phone | None, password_hash: str,
        names: dict[str, str],
    ) -> None:
        with self.ports.uow() as uow:
            owners = self._release_unproven(uow, self._owners(uow, address, number),
                                            address, number)
            if owners:
                for owner in owners:
                    self._tell_owner(uow, owner, address, number)
                uow.commit()
                return
            now = self.now()
            user = uow.users.add(User(
                email=address.value if address else None,
                phone=number.value if number else None,
                password_hash=password_hash,
                created_at=now, password_changed_at=now, **names,
            ))
            for channel in user.channels():  # the SMS's unit: see before_messages
                self.verification.send_verification(uow, user, channel, prepaid=True)
            self.audit(uow, "user_created", user)
            uow.commit()

    @staticmethod
    def _owners(uow: UnitOfWork, address: Email | None, number: Phone | None) -> list[User]:
        owners: list[User] = []
        if address and (user := uow.users.get_by_email(address.value)):
            owners.append(user)
        user = uow.users.get_by_phone(number.value) if number else None
        if user is not None and all(owner.id != user.id for owner in owners):
            owners.append(user)
        return owners

    def _release_unproven(self, uow: UnitOfWork, owners: list[User], address: Email | None,
                          number: Phone | None) -> list[User]:
        """Take an address back from an account that holds it unverified beside a verified
        one; the owners still in the way remain.

        Such an address proves nothing (it signs nothing in and resets nothing): it may
        have been put there by someone who wants the account its real owner will create,
        hoping the owner verifies it there. So the new registration gets it, as if it had
        been free. Not when this registration also names one of that account's verified
        addresses: that is the account's owner signing up again.
        """
        remaining = []
        for owner in owners:
            named = [channel for channel, value in ((Channel.EMAIL, address),
                                                    (Channel.PHONE, number))
                     if value is not None and owner.address(channel) == value.value]
            if owner.is_active and owner.is_verified and not any(
                    owner.vouches_for(channel) for channel in named):
                release(self, uow, owner, named)
            else:
                remaining.append(owner)
        return remaining

    def _tell_owner(
        self, uow: UnitOfWork, owner: User, address: Email | None, number: Phone | None
    ) -> None:
        """What the named address of an existing account gets.

        An account with nothing verified: a "finish signing up" reset, so the recipient
        chooses the password. Verifying the account as it is would hand the address's
        owner an account under the password of whoever registered it first (account
        pre-hijacking). An unverified address beside a verified one that the registration
        also names: a fresh verification (that owner is signing up again). An account
        waiting for its erasure: when it goes, and how to keep it (sign-in and resets are
        refused until then). Otherwise a warning that the address has an account.
        """
        pending = owner.is_active and not owner.is_verified
        for channel, named in ((Channel.EMAIL, address), (Channel.PHONE, number)):
            if named is None or owner.address(channel) != named.value:
                continue
            if owner.deletion_due_at is not None:
                self._tell_deleting(uow, owner, channel, named.value)
            elif pending:
                self.resets.send_finish_signup(uow, owner, channel, prepaid=True)
            elif owner.verified_at(channel) is None and owner.is_active:
                self.verification.send_verification(uow, owner, channel, prepaid=True)
            elif channel is Channel.EMAIL:
                self.send_email(uow, named.value, "account_exists", {
                    "login_link": self.policy.link("/login"),
                    "reset_link": self.policy.link("/reset"),
                }, owner)
            else:
                self.send_sms(uow, named.value, "account_exists", {}, owner, prepaid=True)

    def _tell_deleting(self, uow: UnitOfWork, owner: User, channel: Channel, to: str) -> None:
        """The cancel link only to an address that vouches for the account: an unproven
        one may be a stranger's, who must not keep someone else's account alive."""
        context = deletion_notice(self, uow, owner)
        if not owner.vouches_for(channel):
            context["cancel_link"] = None
        tell_at(self, uow, owner, channel, to, "account_exists_deleting", context, prepaid=True)

    # --- signed-in changes ----------------------------------------------------------

    def update_profile(self, user_id: int, *, first_name: str | None, last_name: str | None
                       ) -> User:
        with self.ports.uow() as uow:
            user = uow.users.get(user_id, lock=True)
            if user is None:
                raise InvalidCredentials()
            user.first_name = clean_name(first_name, "first_name")
            user.last_name = clean_name(last_name, "last_name")
            uow.users.save(user)
            uow.commit()
            return user

    def change_password(self, user_id: int, current: str, new: str, confirm: str,
                        auth_time: datetime | None) -> User:
        """Needs a recent sign-in and the current password; every other session and
        refresh token dies."""
        self.require_recent(auth_time)
        with self.ports.uow() as uow:
            user = uow.users.get(user_id, lock=True)
            if user is None:
                raise ValidationFailed.single("current_password", WRONG_CURRENT)
            self.check_current_password(uow, user, current)
            if new != confirm:
                raise ValidationFailed.single("confirm_password", "The two passwords differ.")
            secret = self.new_password(new, user.identities(), field="new_password")
            user.set_password_hash(self.ports.passwords.hash(secret), self.now())
            uow.users.save(user)
            self.tokens.revoke_all_in(uow, user, reason="password_changed")
            self.audit(uow, "authn_password_change", user)
            self.tell(uow, user, "password_changed", {"reset_link": self.policy.link("/reset")})
            uow.commit()
            return user

    def check_current_password(self, uow: UnitOfWork, user: User, current: str,
                               field: str = "current_password") -> None:
        """The current password, under the login lockout of the account's email and phone.

        A guess here is a login guess (a stolen session or token must not guess without
        limit): counted and locked on the same keys as login, so failures through either
        door share one budget and one lock, and while locked even the right password is
        refused (Throttled). The right password forgets the failures, as a login does.
        """
        if not current:  # left out: not a guess, so not counted
            raise ValidationFailed.single(field, ENTER_CURRENT)
        accounts = user.identities()
        self.ports.throttle.before_logins(*accounts)
        if self.ports.passwords.verify(user.password_hash, normalize_password(current)):
            self.ports.throttle.forget_failures(*accounts)
            return
        self.record_wrong_guess(uow, user, "authn_password_change_fail")
        # the audit rows; nothing else has changed
        uow.commit_and_raise(ValidationFailed.single(field, WRONG_CURRENT))

    def record_wrong_guess(self, uow: UnitOfWork, user: User, event: str) -> None:
        """A wrong password or code from a signed-in user counts toward the login lockout
        of each of the account's addresses (audited, with the lock it earns)."""
        self.audit(uow, event, user)
        for account in user.identities():
            failures, seconds = self.ports.throttle.record_failure(account)
            if seconds:
                self.audit(uow, "authn_login_lock", user, failures=failures, seconds=seconds)
