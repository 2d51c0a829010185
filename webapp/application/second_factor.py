"""The second factor at sign-in: the sign-in that waits for it, trusted browsers, and
re-authentication before sensitive changes.

``check`` is one more stage of the sign-in pipeline (appended to SignInService.checks by
wire_services): an account with a second factor stops there, after its password was
right, unless the browser is trusted. The pending sign-in is stored as an MfaChallenge
named by a random ``mfa_token`` (only its SHA-256 is stored): it lives 5 minutes, is
used once, dies after 5 wrong codes and when the password changes; every wrong code also
counts toward the account's login lockout. ``complete`` proves the factor and finishes
the same sign-in (SignInService.finish), so the login is recorded exactly as any other.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

from webapp.application.accounts import AccountService
from webapp.application.common import Ports, Service
from webapp.application.interfaces import UnitOfWork
from webapp.application.mfa import MfaService
from webapp.application.signin import Door, SignedIn, SignIn, SignInService
from webapp.domain.errors import InvalidCredentials, InvalidToken, SecondFactorRequired
from webapp.domain.mfa import MFA_TOKEN_TTL, TRUSTED_BROWSER_TTL, Method, MfaChallenge
from webapp.domain.model import User
from webapp.domain.passkeys import ChallengePurpose
from webapp.domain.values import Channel

TRUSTED_PURPOSE = "trusted-browser"
# A pending sign-in that is over: no code helps any more (not "request a new code").
SIGN_IN_ENDED = ("This sign-in has ended: it lasts 5 minutes, and ends after 5 wrong codes "
                 "or a password change. Sign in again with your password.")


def _sign_in_ended() -> InvalidToken:
    return InvalidToken(SIGN_IN_ENDED, code="invalid_code")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _accounts_of(challenge: MfaChallenge, user: User) -> list[str]:
    """The identifiers whose lockout a guess at this sign-in's factor counts toward: the
    one signed in with, and every address of the account."""
    return list(dict.fromkeys([challenge.account, *user.identities()]))


def _methods(uow: UnitOfWork, user: User) -> list[str]:
    """The factors a pending sign-in offers: those the account can prove."""
    device = uow.totp.for_user(user.id or 0)
    methods = [Method.TOTP.value] if device is not None and device.confirmed else []
    if uow.passkeys.for_user(user.id or 0):
        methods.append(Method.PASSKEY.value)
    if uow.recovery_codes.unused(user.id or 0):
        methods.append(Method.RECOVERY_CODE.value)
    return methods


def _factor_stamp(user: User) -> str:
    """What a trusted browser is bound to: the factor set and the password state."""
    return _digest(f"{user.mfa_version}:{user.password_fingerprint()}")[:32]


class SecondFactorService(Service):
    def __init__(self, ports: Ports, mfa: MfaService, signin: SignInService,
                 accounts: AccountService) -> None:
        super().__init__(ports)
        self.mfa = mfa
        self.signin = signin
        self.accounts = accounts

    # --- the sign-in stage -------------------------------------------------------------------

    def check(self, attempt: SignIn) -> None:
        """Stop a sign-in whose account has a second factor (the password was right)."""
        user = attempt.user
        assert user is not None
        if not user.has_second_factor or self.trusts(attempt.trusted, user):
            return
        token = secrets.token_urlsafe(32)
        now = self.now()
        with self.ports.uow() as uow:
            methods = _methods(uow, user)
            uow.mfa_challenges.remove_expired(now)  # the table holds 5 minutes' worth
            uow.mfa_challenges.add(MfaChallenge(
                id=_digest(token), user_id=user.id or 0, door=attempt.door.value,
                channel=attempt.channel.value, account=attempt.account,
                fingerprint=user.password_fingerprint(), created_at=now,
                expires_at=now + MFA_TOKEN_TTL))
            self.audit(uow, "authn_mfa_required", user, methods=methods)
            uow.commit()
        raise SecondFactorRequired(token, methods)

    def complete(self, token: str, *, code: str | None = None,
                 recovery_code: str | None = None, credential: object | None = None,
                 door: Door | None = None, device: str | None = None) -> SignedIn:
        """Prove the factor for a pending sign-in and finish it. ``door``: the door it
        must have started at (the login page's token is no API token); ``device``: the
        browser's device-cookie id (new-device notices)."""
        with self.ports.uow() as uow:
            challenge, user = self._pending(uow, token, door, lock=True)
            now = self.now()
            # The code is a guess like a password: the same slot and lock (given back by
            # record_failure below or forget_failures once the sign-in is finished), of
            # every address of the account: the password typed with its phone number must
            # not bring a new budget of guesses at the factor the email's has spent.
            accounts = _accounts_of(challenge, user)
            self.ports.throttle.before_logins(*accounts)
            with self._slot_given_back_on_fault(*accounts) as counted:
                try:
                    method = self.mfa.prove(uow, user, code=code, recovery_code=recovery_code,
                                            credential=credential)
                except InvalidToken as exc:
                    challenge.attempts += 1
                    uow.mfa_challenges.save(challenge)
                    self.audit(uow, "authn_mfa_fail", user, attempts=challenge.attempts)
                    for account in accounts:
                        failures, lock = self.ports.throttle.record_failure(account)
                        if lock:
                            self.audit(uow, "authn_login_lock", user, failures=failures,
                                       seconds=lock)
                    counted.append(True)  # record_failure gave the slots back
                    uow.commit_and_raise(exc)
                challenge.used_at = now
                uow.mfa_challenges.save(challenge)
                self.audit(uow, "authn_mfa_success", user, method=method.value)
                uow.commit()
        self.ports.throttle.forget_failures(*accounts)
        signed_in = self.signin.finish(SignIn(
            door=Door(challenge.door), channel=Channel(challenge.channel),
            account=challenge.account, email=None, phone=None, secret=None, user=user,
            verified_hash=user.password_hash, device=device))
        if signed_in is None:  # the account changed in that very moment
            raise InvalidCredentials()
        return signed_in

    def passkey_options(self, token: str, door: Door | None = None) -> dict[str, Any]:
        """WebAuthn request options for the user's passkeys, for a pending sign-in (the
        answer is ``complete(token, credential=...)``)."""
        with self.ports.uow() as uow:
            _, user = self._pending(uow, token, door)
            options = self.mfa.passkeys.request_options(uow, ChallengePurpose.SECOND_FACTOR,
                                                        user)
            uow.commit()
            return options

    def _pending(self, uow: UnitOfWork, token: str, door: Door | None, *,
                 lock: bool = False) -> tuple[MfaChallenge, User]:
        """The live pending sign-in ``token`` names, begun at ``door`` (if given), and its
        account, whose password has not changed since (a reset or an undo kills every
        pending sign-in, for every use of its token); else ``invalid_code``."""
        challenge = uow.mfa_challenges.get(_digest(token or "-"), lock=lock)
        if challenge is None or not challenge.is_live(self.now()) or (
                door is not None and challenge.door != door.value):
            raise _sign_in_ended()
        user = uow.users.get(challenge.user_id, lock=lock)
        if (user is None or not user.is_active
                or user.password_fingerprint() != challenge.fingerprint):
            raise _sign_in_ended()
        return challenge, user

    def reauthentication_options(self, user_id: int) -> dict[str, Any]:
        """WebAuthn request options for re-authenticating with one of the user's passkeys."""
        with self.ports.uow() as uow:
            user = uow.users.get(user_id)
            if user is None or not user.is_active:
                raise InvalidCredentials()
            options = self.mfa.passkeys.request_options(
                uow, ChallengePurpose.REAUTHENTICATE, user)
            uow.commit()
            return options

    # --- trusted browsers ----------------------------------------------------------------------

    @contextmanager
    def _slot_given_back_on_fault(self, *accounts: str) -> Iterator[list[bool]]:
        """Around a guess checked after ``before_login``: anything but a counted failure
        (a database fault, a secret no key opens: a 503) gives the check slot back, or
        every guess at these identifiers would be refused until the slot expires. A
        counted failure has given it back already (appends to the list it gets)."""
        counted: list[bool] = []
        try:
            yield counted
        except BaseException:
            if not counted:
                for account in accounts:
                    with suppress(Exception):
                        self.ports.throttle.done_checking(account)
            raise

    def trust(self, user: User) -> str:
        """A token for the browser's "don't ask again for 30 days" cookie."""
        return self.ports.signer.dumps(TRUSTED_PURPOSE, {"uid": user.id,
                                                         "stamp": _factor_stamp(user)})

    def trusts(self, token: str | None, user: User) -> bool:
        if not token:
            return False
        try:
            payload = self.ports.signer.loads(TRUSTED_PURPOSE, token,
                                              int(TRUSTED_BROWSER_TTL.total_seconds()))
        except InvalidToken:
            return False  # tampered or expired: just an untrusted browser
        return payload.get("uid") == user.id and payload.get("stamp") == _factor_stamp(user)

    # --- re-authentication ---------------------------------------------------------------------

    def reauthenticate(self, user_id: int, *, password: str | None = None,
                       code: str | None = None, credential: object | None = None) -> datetime:
        """Prove a factor again (the password, a code from the authenticator app, or a
        passkey's ``credential``); the answer is the new ``auth_time``. Wrong answers
        count toward the login lockout."""
        with self.ports.uow() as uow:
            user = uow.users.get(user_id, lock=True)
            if user is None or not user.is_active:
                raise InvalidCredentials()
            if password:
                self.accounts.check_current_password(uow, user, password, field="password")
            else:
                self.ports.throttle.before_logins(*user.identities())
                with self._slot_given_back_on_fault(*user.identities()) as counted:
                    try:
                        self.mfa.prove(uow, user, code=code or "", credential=credential,
                                       purpose=ChallengePurpose.REAUTHENTICATE)
                    except InvalidToken as exc:
                        self.accounts.record_wrong_guess(uow, user, "authn_reauth_fail")
                        counted.append(True)  # the failure gave the slots back
                        uow.commit_and_raise(exc)
                self.ports.throttle.forget_failures(*user.identities())
            now = self.now()
            method = "password" if password else "passkey" if credential is not None else "totp"
            self.audit(uow, "authn_reauthenticated", user, method=method)
            uow.commit()
            return now
