"""Signing in: one pipeline for every door.

A sign-in is a small object (``SignIn``) that passes through stages, in the spirit of
django-allauth's login stages. Each stage may stop it with a domain error:

1. identify   the identifier is parsed; a locked one answers before any look-up
2. checks     ``SignInService.checks``, in order: the password (a dummy hash for an
              unknown account), then the account's state (active; the address signed
              in with is verified). A second factor is one more check appended here:
              it stops a sign-in whose password was right, to be finished later by
              ``finish`` once the factor is proven.
3. record     the login written in one step (last login, a rehashed password, the
              audit event, a refresh family for the API, the device it came from),
              provided the account is still as it was checked; otherwise the checks
              run again, once; then the ``after_sign_in`` hooks (new-device notices)
4. issue      the API door gets a token pair; the browser door starts its own session

The storage behind steps 1 and 3 is the ``LoginStore`` port: two prepared statements
on PostgreSQL (infrastructure/logins.py), a read and one short transaction on SQLite's
own connection (infrastructure/sqlite_logins.py), the unit of work for the fakes
(``UnitOfWorkLogins`` below, the reference for what both do). No transaction is open
while the password is hashed.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import NoReturn

from webapp.application.audit_log import write_json_line
from webapp.application.common import Ports, Service, collect, find_user, parse_identifier
from webapp.application.interfaces import (
    LoginRecorded,
    LoginStore,
    SuccessfulLogin,
    UnitOfWork,
    UnitOfWorkFactory,
)
from webapp.application.tokens import TokenPair, TokenService
from webapp.domain.errors import DomainError, InvalidCredentials, Unverified, ValidationFailed
from webapp.domain.model import User
from webapp.domain.passwords import normalize_password
from webapp.domain.sessions import DeviceSeen, DeviceVisit, KnownDevice
from webapp.domain.values import Channel, Email, Phone

# A login whose account changed between the read and the write is checked again against
# the account as it is now, once; a second change in that moment fails it.
ENTER_PASSWORD = "Enter your password."
LOGIN_ROUNDS = 2


class Door(StrEnum):
    """Which door a sign-in came through: what it is issued at the end."""

    BROWSER = "browser"  # the door starts a session; nothing is issued here
    API = "api"  # a new refresh family and a token pair


@dataclass
class SignIn:
    """One sign-in on its way through the stages."""

    door: Door
    channel: Channel
    account: str  # the canonical identifier: what the lockout counts
    email: Email | None
    phone: Phone | None
    secret: str | None  # the normalised password (None once the sign-in was paused)
    user: User | None = None
    verified_hash: str | None = None  # a stored hash this password was found to match
    trusted: str | None = None  # the browser's "don't ask again" token, if it sent one
    device: str | None = None  # the browser's device-cookie id (new-device notices)


@dataclass(frozen=True)
class SignedIn:
    user: User
    tokens: TokenPair | None = None  # the API door's pair; None for a browser


Stage = Callable[[SignIn], None]
# The device a sign-in comes from, recorded with the login (None: not tracked).
DeviceOf = Callable[[SignIn], DeviceVisit | None]
# Called once a sign-in is recorded, with the signed-in user and what its device's record
# was (e.g. new-device notices).
AfterSignIn = Callable[[SignIn, User, DeviceSeen | None], None]


def _untracked(_attempt: SignIn) -> None:
    return None


class SignInService(Service):
    def __init__(
        self, ports: Ports, tokens: TokenService, logins: LoginStore | None = None
    ) -> None:
        super().__init__(ports)
        self.tokens = tokens
        self.logins = logins or UnitOfWorkLogins(ports.uow)
        self.checks: list[Stage] = [self.check_password, self.check_account]
        self.device_of: DeviceOf = _untracked
        self.after_sign_in: list[AfterSignIn] = []

    def with_password(
        self, *, email: str | None, phone: str | None, password: str, door: Door,
        trusted: str | None = None,
        device: str | None = None,
    ) -> SignedIn:
        """Sign in with an email or phone and a password: the answer of every door.
        ``trusted``: the trusted-browser token a browser sent (see second_factor.py);
        ``device``: the browser's device-cookie id, if it has one."""
        attempt = self.identify(email, phone, password, door)
        attempt.trusted, attempt.device = trusted, device
        try:
            return self._run(attempt)
        except DomainError:
            raise  # each refusal has given the identifier's check slot back
        except Exception:
            # A fault mid-check (the database restarting: a 503): give the slot back too,
            # or every sign-in with this identifier would be refused until it expires.
            with suppress(Exception):
                self.ports.throttle.done_checking(attempt.account)
            raise

    def _run(self, attempt: SignIn) -> SignedIn:
        for _ in range(LOGIN_ROUNDS):
            attempt.user = self.logins.find_user(attempt.email, attempt.phone)
            for check in self.checks:
                check(attempt)
            signed_in = self.finish(attempt)
            if signed_in is not None:
                return signed_in
            # Deactivated, password changed or logged out everywhere meanwhile: look again.
            assert attempt.user is not None
            attempt.verified_hash = attempt.user.password_hash
        self.fail(attempt, "changed_during_login")

    # --- the stages ----------------------------------------------------------------------

    def identify(self, email: str | None, phone: str | None, password: str, door: Door) -> SignIn:
        # No password is a form sent too early (Enter in the address box), not a wrong
        # guess: said as such, and never counted toward the account's lockout.
        errors: dict[str, list[str]] = {} if password else {"password": [ENTER_PASSWORD]}
        parsed = collect(errors, lambda: parse_identifier(email, phone,
                                                          self.policy.default_region))
        if errors or parsed is None:
            raise ValidationFailed(errors)
        address, number = parsed
        account = str(address or number)
        # Locked identifiers answer before any look-up: the same for unknown ones.
        self.ports.throttle.before_login(account)
        # Normalised whole: cutting first would let a combining mark at the cut compose
        # into a stored password and hide everything after it. Bodies are size-limited.
        return SignIn(
            door=door,
            channel=Channel.EMAIL if address else Channel.PHONE,
            account=account,
            email=address,
            phone=number,
            secret=normalize_password(password),
        )

    def check_password(self, attempt: SignIn) -> None:
        user, secret = attempt.user, attempt.secret or ""
        if user is None:
            self.ports.passwords.dummy_verify(secret)
            self.fail(attempt, "unknown_account")
        if user.password_hash != attempt.verified_hash and not self.ports.passwords.verify(
            user.password_hash, secret
        ):
            self.fail(attempt, "wrong_password")
        attempt.verified_hash = user.password_hash

    def check_account(self, attempt: SignIn) -> None:
        user = attempt.user
        assert user is not None
        if not user.is_active:
            self.fail(attempt, "deactivated")
        if user.has_second_factor:
            # Only a proven factor forgets the failures (else a known password would reset
            # the count of guessed codes at every new sign-in); the check slot is given back.
            self.ports.throttle.done_checking(attempt.account)
        else:
            self.ports.throttle.forget_failures(attempt.account)
        # The address signed in with must be verified itself, not just some address of
        # the account (403 "unverified", as for an account not verified at all).
        if not user.is_verified or not user.vouches_for(attempt.channel):
            raise Unverified()

    def finish(self, attempt: SignIn) -> SignedIn | None:
        """Record the login and issue what the door gets; None (nothing written) when the
        account changed since it was checked."""
        login = self._successful_login(attempt)
        recorded = self.logins.record(login)
        if recorded is None:
            return None
        write_json_line(login.event)
        for hook in self.after_sign_in:
            hook(attempt, login.user, recorded.device)
        if attempt.door is Door.API:
            assert login.family is not None
            auth_time = int(self.now().timestamp())
            return SignedIn(login.user,
                            self.tokens.pair(login.user, login.family.id, 0, auth_time))
        return SignedIn(login.user)

    def _successful_login(self, attempt: SignIn) -> SuccessfulLogin:
        user = attempt.user
        assert user is not None
        password_hash = user.password_hash
        if attempt.secret is not None and self.ports.passwords.needs_rehash(password_hash):
            password_hash = self.ports.passwords.hash(attempt.secret)
        now = self.now()
        signed_in = replace(user, password_hash=password_hash, last_login_at=now)
        family = self.tokens.new_family(signed_in, now) if attempt.door is Door.API else None
        return SuccessfulLogin(
            user=signed_in,
            verified_hash=user.password_hash,
            event=self.audit_event("authn_login_success", signed_in),
            family=family,
            device=self.device_of(attempt),
        )

    def fail(self, attempt: SignIn, reason: str) -> NoReturn:
        """One InvalidCredentials for every failure; counted toward the lockout, audited."""
        failures, lock = self.ports.throttle.record_failure(attempt.account)
        with self.ports.uow() as uow:
            self.audit(uow, "authn_login_fail", attempt.user, reason=reason)
            if lock:
                self.audit(uow, "authn_login_lock", attempt.user, failures=failures, seconds=lock)
            uow.commit_and_raise(InvalidCredentials())


class UnitOfWorkLogins:
    """The LoginStore over the unit of work and its repositories: SQLite and the test
    fakes. PostgreSQL has its own, with one prepared statement per step
    (webapp/infrastructure/logins.py); this one is the reference for what both do."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def find_user(self, email: Email | None, phone: Phone | None) -> User | None:
        with self._uow() as uow:  # a read of its own, rolled back before the hash
            return find_user(uow, email, phone)

    def record(self, login: SuccessfulLogin) -> LoginRecorded | None:
        with self._uow() as uow:
            user = uow.users.get(login.user.id or 0, lock=True)
            if user is None or not login.still_applies_to(user):
                return None
            # Only what a login changes: anything else may have moved since the read.
            user.last_login_at = login.user.last_login_at
            user.password_hash = login.user.password_hash
            uow.users.save(user)
            if login.family is not None:
                uow.families.add(login.family)
            seen = None if login.device is None else _see_device(uow, user.id or 0,
                                                                 login.device)
            uow.audit.add(login.event)
            uow.commit()
            return LoginRecorded(seen)


def _see_device(uow: UnitOfWork, user_id: int, visit: DeviceVisit) -> DeviceSeen:
    """The device's record before this login, and the login's change to it."""
    known = uow.devices.get(user_id, visit.key)
    had_devices = known is not None or uow.devices.has_any(user_id)
    if known is None:
        uow.devices.add(KnownDevice(user_id=user_id, key=visit.key,
                                    first_seen_at=visit.at, last_seen_at=visit.at))
        return DeviceSeen(visit, inserted=True, previous_seen_at=None,
                          had_devices=had_devices)
    previous = known.last_seen_at
    if visit.refreshes(previous):
        known.last_seen_at = visit.at
        uow.devices.save(known)
    return DeviceSeen(visit, inserted=False, previous_seen_at=previous, had_devices=True)
