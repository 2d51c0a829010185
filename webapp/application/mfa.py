"""Second factors, managed: an authenticator app (TOTP) and recovery codes.

Setting up an authenticator is pending until a right code confirms it; confirming it
gives 10 recovery codes, shown once and stored as keyed hashes. Turning a factor on or
off renews ``User.mfa_version`` (trusted browsers die with it) and tells the user. The
sign-in side (the pending sign-in, trusted browsers, re-authentication) is
second_factor.py; this module proves a code for it (``prove``).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from webapp.application.common import Ports, Service
from webapp.application.interfaces import Authenticators, SecretBox, UnitOfWork
from webapp.application.mfa_keys import reseal_secrets
from webapp.application.passkey_proof import PasskeyProof
from webapp.domain.errors import Conflict, InvalidCredentials, ServiceUnavailable
from webapp.domain.mfa import (
    RECOVERY_CODE_COUNT,
    TOTP_DRIFT_STEPS,
    Method,
    MfaStatus,
    RecoveryCode,
    TotpDevice,
    TotpSetup,
    clean_recovery_code,
    clean_totp_code,
    few_codes_left,
    new_recovery_code,
    wrong_code,
)
from webapp.domain.model import User
from webapp.domain.passkeys import ChallengePurpose, Passkey

log = logging.getLogger(__name__)

TOTP_ON = "An authenticator app was turned on for your account."
CODES_REPLACED = (" New recovery codes came with it: the ones you had before no longer "
                  "work.")


class MfaService(Service):
    def __init__(self, ports: Ports, authenticators: Authenticators, box: SecretBox,
                 passkeys: PasskeyProof) -> None:
        super().__init__(ports)
        self.authenticators = authenticators
        self.box = box
        self.passkeys = passkeys

    def status(self, user_id: int) -> MfaStatus:
        with self.ports.uow() as uow:
            device = uow.totp.for_user(user_id)
            left = len(uow.recovery_codes.unused(user_id))
            passkeys = len(uow.passkeys.for_user(user_id))
        return MfaStatus(totp=device is not None and device.confirmed, passkeys=passkeys,
                         recovery_codes_left=left)

    # --- the authenticator app -------------------------------------------------------------

    def start_totp(self, user_id: int, auth_time: datetime | None) -> TotpSetup:
        """A new secret, pending until ``confirm_totp``; a pending one is replaced."""
        self.require_recent(auth_time)
        with self.ports.uow() as uow:
            user = self.active_user(uow, user_id)
            device = uow.totp.for_user(user_id)
            if device is not None and device.confirmed:
                raise Conflict("An authenticator app is already on. Remove it first.")
            secret = self.authenticators.new_secret()
            if device is None:
                uow.totp.add(TotpDevice(user_id=user_id, secret=self.box.seal(secret),
                                        created_at=self.now()))
            else:
                device.secret, device.created_at = self.box.seal(secret), self.now()
                uow.totp.save(device)
            uow.commit()
        return self._setup(user, secret)

    def pending_totp(self, user_id: int) -> TotpSetup | None:
        """The set-up still waiting for its first code (its secret, URI and QR code again),
        or None. For a door that shows it again to whoever started it (the browser that
        got it from ``start_totp``, which needed a recent sign-in). None too when no
        configured key opens its secret: starting again replaces it."""
        with self.ports.uow() as uow:
            user = self.active_user(uow, user_id)
            device = uow.totp.for_user(user_id)
            if device is None or device.confirmed:
                return None
            try:
                return self._setup(user, self.box.open(device.secret))
            except ValueError:
                return None

    def _setup(self, user: User, secret: str) -> TotpSetup:
        uri = self.authenticators.provisioning_uri(
            secret, user.email or user.phone or str(user.id), self.policy.site_name)
        return TotpSetup(secret=secret, otpauth_uri=uri,
                         qr_svg=self.authenticators.qr_svg(uri))

    def confirm_totp(self, user_id: int, code: str) -> list[str]:
        """A right code turns the app on; the answer is the recovery codes, shown once."""
        with self.ports.uow() as uow:
            user = self.active_user(uow, user_id)
            device = uow.totp.for_user(user_id)
            if device is None or device.confirmed:
                raise wrong_code()
            self._take_step(uow, device, code)
            device.confirmed_at = self.now()
            uow.totp.save(device)
            replaced = uow.recovery_codes.unused(user_id)  # made with a passkey: they die
            codes = self._new_recovery_codes(uow, user)
            self._factors_changed(uow, user, "mfa_totp_added", TOTP_ON + (
                CODES_REPLACED if replaced else ""))
            uow.commit()
            return codes

    def disable_totp(self, user_id: int, auth_time: datetime | None) -> None:
        self.require_recent(auth_time)
        with self.ports.uow() as uow:
            user = self.active_user(uow, user_id)
            device = uow.totp.for_user(user_id)
            if device is None or not device.confirmed:
                raise Conflict("No authenticator app is on.")
            self._remove_factors(uow, user, passkeys=False)
            self._factors_changed(uow, user, "mfa_totp_removed",
                                  "The authenticator app was removed from your account.")
            uow.commit()

    def regenerate_recovery_codes(self, user_id: int, auth_time: datetime | None) -> list[str]:
        self.require_recent(auth_time)
        with self.ports.uow() as uow:
            user = self.active_user(uow, user_id)
            if not user.has_second_factor:
                raise Conflict("Turn on a second factor first.")
            codes = self._new_recovery_codes(uow, user)
            # A factor changed: trusted browsers ask again (one trusted with a stolen code
            # would outlive the codes made to lock its holder out).
            self._factors_changed(uow, user, "mfa_recovery_codes_regenerated",
                                  "New recovery codes were made for your account; the old "
                                  "ones no longer work.")
            uow.commit()
            return codes

    def turn_off(self, uow: UnitOfWork, user: User, actor: User | None, reason: str) -> bool:
        """Staff (or the operator): every second factor off. False when none was on."""
        if not user.has_second_factor:
            return False
        self.remove_all(uow, user, "mfa_turned_off_by_staff",
                        "Our staff turned off the second factor of your account.",
                        actor=actor, reason=reason)
        return True

    def remove_all(self, uow: UnitOfWork, user: User, event: str, notice: str | None, *,
                   since: datetime | None = None, actor: User | None = None,
                   **data: object) -> list[str]:
        """Every factor gone in the caller's transaction (passkeys, the app on or being set
        up, codes, trusted browsers), or with ``since`` those added since then; if one
        was, audited and told. Answers the methods removed."""
        removed = self._remove_factors(uow, user, since=since)
        codes = uow.recovery_codes.unused(user.id or 0)
        if codes and (since is None or any(c.created_at >= since for c in codes)):
            uow.recovery_codes.replace_all(user.id or 0, [])
            removed.append(Method.RECOVERY_CODE.value)
        if removed or (since is None and user.has_second_factor):
            self._factors_changed(uow, user, event, notice, actor=actor, **data)
        return removed

    def reseal_secrets(self, batch: int = 200) -> tuple[int, int]:
        """Every stored TOTP secret sealed again with the newest key (mfa_keys.py)."""
        return reseal_secrets(self, self.box, batch)

    # --- proving a factor (sign-in, re-authentication) ---------------------------------------

    def prove(self, uow: UnitOfWork, user: User, *, code: str | None = None,
              recovery_code: str | None = None, credential: object | None = None,
              purpose: ChallengePurpose = ChallengePurpose.SECOND_FACTOR) -> Method:
        """The factor this code proves, spent (its step or the recovery code); else one
        ``invalid_code`` for wrong, malformed, reused and expired alike. A passkey's
        ``credential`` answers a challenge made for ``purpose`` (else ``invalid_credential``)."""
        if credential is not None:
            self.passkeys.prove(uow, credential, purpose, user, require_user_verification=False)
            return Method.PASSKEY
        if code:
            device = uow.totp.for_user(user.id or 0)
            if device is None or not device.confirmed:
                raise wrong_code()
            self._take_step(uow, device, code)
            return Method.TOTP
        if recovery_code:
            self._spend_recovery_code(uow, user, recovery_code)
            return Method.RECOVERY_CODE
        raise wrong_code()

    # --- the pieces ------------------------------------------------------------------------

    @staticmethod
    def active_user(uow: UnitOfWork, user_id: int) -> User:
        """The account, locked for this change; InvalidCredentials when it is gone."""
        user = uow.users.get(user_id, lock=True)
        if user is None or not user.is_active:
            raise InvalidCredentials()
        return user

    def _take_step(self, uow: UnitOfWork, device: TotpDevice, raw: str) -> None:
        """The code's 30 s step, if right and newer than the last one accepted: recorded,
        so that the same code (or an older one) is never accepted again."""
        code = clean_totp_code(raw)
        try:
            secret = self.box.open(device.secret)
        except ValueError as exc:  # sealed with a key no longer configured: the operator's
            log.error("a TOTP secret opens with no MFA_ENCRYPTION_KEY (user %s)", device.user_id)
            raise ServiceUnavailable("Codes from authenticator apps cannot be checked right "
                                     "now. Use a recovery code or a passkey.") from exc
        step = (self.authenticators.matching_step(secret, code, self.now(), TOTP_DRIFT_STEPS)
                if code else None)
        if step is None or not device.accepts(step):
            raise wrong_code()
        device.last_step = step
        uow.totp.save(device)

    def _spend_recovery_code(self, uow: UnitOfWork, user: User, raw: str) -> None:
        code = clean_recovery_code(raw)
        unused = uow.recovery_codes.unused(user.id or 0)
        match = next((c for c in unused
                      if code and self.ports.codes.matches(code, c.code_hash)), None)
        if match is None:
            raise wrong_code()
        match.used_at = self.now()
        uow.recovery_codes.save(match)
        left = len(unused) - 1
        self.audit(uow, "mfa_recovery_code_used", user, left=left)
        self.notify(uow, user, "A recovery code was used to sign in to your account."
                    + few_codes_left(left))

    def _new_recovery_codes(self, uow: UnitOfWork, user: User) -> list[str]:
        codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
        now = self.now()
        uow.recovery_codes.replace_all(user.id or 0, [
            RecoveryCode(user_id=user.id or 0, code_hash=self.ports.codes.hash(code),
                         created_at=now) for code in codes])
        return codes

    def _remove_factors(self, uow: UnitOfWork, user: User, *, passkeys: bool = True,
                        since: datetime | None = None) -> list[str]:
        """The authenticator app and (unless told not to) the passkeys, with their ceremonies
        under way (a registration past its session check must find its challenge gone);
        with ``since``, only those added since then. Answers the methods removed."""
        uid, removed = user.id or 0, []
        device = uow.totp.for_user(uid)
        if device is not None and (since is None or not device.added_before(since)):
            uow.totp.remove_for_user(uid)
            removed += [Method.TOTP.value] if device.confirmed else []
        if passkeys:
            gone = [p for p in uow.passkeys.for_user(uid)
                    if since is None or p.created_at >= since]
            for passkey in gone:
                uow.passkeys.remove(passkey.id or 0)
            removed += [Method.PASSKEY.value] if gone else []
            uow.webauthn_challenges.remove_for_user(uid)
        return removed

    @staticmethod
    def _has_factor(uow: UnitOfWork, user: User) -> bool:
        # An app set up but never confirmed is no factor: nothing could prove it.
        device = uow.totp.for_user(user.id or 0)
        return (device is not None and device.confirmed) or bool(
            uow.passkeys.for_user(user.id or 0))

    def _factors_changed(self, uow: UnitOfWork, user: User, event: str, notice: str | None,
                         *, actor: User | None = None, **data: object) -> None:
        has_factor = self._has_factor(uow, user)
        if not has_factor:  # recovery codes die with the last factor
            uow.recovery_codes.replace_all(user.id or 0, [])
        user.mfa_version = secrets.token_hex(8) if has_factor else ""
        uow.users.save(user)
        self.audit(uow, event, user, actor=actor, **data)
        if notice:
            self.notify(uow, user, notice)

    # --- passkeys: enrolled and removed by PasskeyService (passkeys.py) --------------------

    def passkey_added(self, uow: UnitOfWork, user: User, passkey: Passkey) -> None:
        self._factors_changed(uow, user, "mfa_passkey_added",
                              f"A passkey ({passkey.name}) was added to your account.",
                              passkey_id=passkey.id)

    def passkey_removed(self, uow: UnitOfWork, user: User, passkey: Passkey) -> None:
        self._factors_changed(uow, user, "mfa_passkey_removed",
                              f"A passkey ({passkey.name}) was removed from your account.",
                              passkey_id=passkey.id)

    def notify(self, uow: UnitOfWork, user: User, change: str) -> None:
        """A message about a change to the account's security (``tell``)."""
        self.tell(uow, user, "security_change", {
            "change": change, "security_link": self.policy.link("/account/security"),
            "reset_link": self.policy.link("/reset")})
