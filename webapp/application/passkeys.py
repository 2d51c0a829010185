"""Passkeys, managed: enrolling one (recent sign-in required), the list, removing one,
and the passwordless sign-in.

A passkey is a second factor like the authenticator app: adding or removing one renews
``User.mfa_version`` (trusted browsers die), tells the user and is audited (MfaService's
``passkey_added`` / ``passkey_removed``); removing the last factor kills the recovery
codes. A discoverable passkey whose authenticator verified its user (a PIN, a fingerprint)
is both factors: ``sign_in`` finishes the sign-in pipeline with no password
(SignInService.finish), exactly as a sign-in whose second factor was just proven.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from webapp.application.common import Ports, Service
from webapp.application.interfaces import UnitOfWork
from webapp.application.mfa import MfaService
from webapp.application.passkey_proof import PasskeyProof, b64url, invalid_credential
from webapp.application.signin import Door, SignedIn, SignIn, SignInService
from webapp.domain.errors import Conflict, InvalidCredentials, InvalidToken, NotFound, Unverified
from webapp.domain.model import User
from webapp.domain.passkeys import MAX_PASSKEYS, ChallengePurpose, Passkey, clean_passkey_name
from webapp.domain.values import Channel

TOO_MANY = f"An account can have at most {MAX_PASSKEYS} passkeys. Remove one first."


class PasskeyService(Service):
    def __init__(self, ports: Ports, mfa: MfaService, signin: SignInService) -> None:
        super().__init__(ports)
        self.mfa = mfa
        self.proof: PasskeyProof = mfa.passkeys
        self.signin = signin

    def passkeys(self, user_id: int) -> list[Passkey]:
        with self.ports.uow() as uow:
            return uow.passkeys.for_user(user_id)

    # --- enrolling and removing ------------------------------------------------------------

    def registration_options(self, user_id: int, auth_time: datetime | None) -> dict[str, Any]:
        """*Fresh.* Options for ``navigator.credentials.create``: a discoverable credential
        with user verification preferred; the user's passkeys excluded."""
        self.require_recent(auth_time)
        with self.ports.uow() as uow:
            user = self.mfa.active_user(uow, user_id)
            existing = uow.passkeys.for_user(user_id)
            if len(existing) >= MAX_PASSKEYS:
                raise Conflict(TOO_MANY)
            challenge = self.proof.new_challenge(uow, ChallengePurpose.REGISTER, user)
            uow.commit()
        name = user.email or user.phone or str(user_id)
        return self.proof.webauthn.registration_options(
            challenge=challenge, user_handle=_unb64url(self._handle(user, existing)),
            user_name=name,
            display_name=" ".join(filter(None, [user.first_name, user.last_name])) or name,
            exclude=[p.credential_id for p in existing])

    def register(self, user_id: int, credential: object, name: str | None) -> Passkey:
        """The browser's answer to ``registration_options``, verified and stored. A name
        that cannot be stored is refused first: the ceremony is not spent on it."""
        label = clean_passkey_name(name)
        with self.ports.uow() as uow:
            user = self.mfa.active_user(uow, user_id)
            try:
                passkey = self._verified_new(uow, user, credential, label)
            except InvalidToken as exc:
                uow.commit_and_raise(exc)  # the spent challenge and the audit line stay
            uow.passkeys.add(passkey)
            self.mfa.passkey_added(uow, user, passkey)
            uow.commit()
            return passkey

    def remove(self, user_id: int, passkey_id: int, auth_time: datetime | None) -> None:
        """*Fresh.* Another user's passkey is not found (404), as a missing one."""
        self.require_recent(auth_time)
        with self.ports.uow() as uow:
            user = self.mfa.active_user(uow, user_id)
            passkey = next((p for p in uow.passkeys.for_user(user_id) if p.id == passkey_id),
                           None)
            if passkey is None:
                raise NotFound("No such passkey.")
            uow.passkeys.remove(passkey_id)
            self.mfa.passkey_removed(uow, user, passkey)
            uow.commit()

    # --- the passwordless sign-in ------------------------------------------------------------

    def login_options(self) -> dict[str, Any]:
        """Options for ``navigator.credentials.get`` with any passkey of this site."""
        with self.ports.uow() as uow:
            options = self.proof.request_options(uow, ChallengePurpose.LOGIN, None)
            uow.commit()
            return options

    def sign_in(self, credential: object, door: Door, device: str | None = None) -> SignedIn:
        """A discoverable passkey with user verification: both factors at once.
        ``device``: the browser's device-cookie id (new-device notices)."""
        with self.ports.uow() as uow:
            try:
                passkey = self.proof.prove(uow, credential, ChallengePurpose.LOGIN, None,
                                           require_user_verification=True)
            except InvalidToken as exc:
                uow.commit_and_raise(exc)
            user = uow.users.get(passkey.user_id)
            if user is None or not user.is_active:
                self.audit(uow, "authn_login_fail", user, reason="deactivated",
                           method="passkey")
                uow.commit_and_raise(InvalidCredentials())
            self.audit(uow, "authn_passkey_login", user, passkey_id=passkey.id)
            uow.commit()
        channel = Channel.EMAIL if user.vouches_for(Channel.EMAIL) else Channel.PHONE
        if not user.vouches_for(channel):
            raise Unverified()
        signed_in = self.signin.finish(SignIn(
            door=door, channel=channel, account=str(user.email or user.phone), email=None,
            phone=None, secret=None, user=user, verified_hash=user.password_hash,
            device=device))
        if signed_in is None:  # the account changed in that very moment
            raise InvalidCredentials()
        return signed_in

    # --- the pieces ----------------------------------------------------------------------------

    def _handle(self, user: User, existing: list[Passkey]) -> str:
        """The user handle authenticators keep for this account: no address or id in
        clear, and the same for every passkey of the account (a keyed hash of its id)."""
        if existing:
            return existing[0].user_handle
        keyed = self.ports.codes.hash(f"webauthn-user-handle:{user.id}")
        return b64url(hashlib.sha256(keyed.encode()).digest())

    def _verified_new(self, uow: UnitOfWork, user: User, credential: object,
                      label: str) -> Passkey:
        info = self.proof.take_challenge(uow, credential, ChallengePurpose.REGISTER, user)
        existing = uow.passkeys.for_user(user.id or 0)
        if len(existing) >= MAX_PASSKEYS:
            self.proof.refuse(uow, user, "too_many")
        try:
            new = self.proof.webauthn.verify_registration(credential, info.challenge)
        except ValueError as exc:
            self.proof.refuse(uow, user, "not_verified", detail=str(exc)[:200])
        if uow.passkeys.by_credential_id(new.credential_id) is not None:
            self.proof.refuse(uow, user, "already_registered")
        handle = self._handle(user, existing)
        return Passkey(
            user_id=user.id or 0, credential_id=new.credential_id, public_key=new.public_key,
            user_handle=handle, name=label or f"Passkey {len(existing) + 1}",
            created_at=self.now(), sign_count=new.sign_count, transports=new.transports,
            backup_eligible=new.backup_eligible, backed_up=new.backed_up)


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


__all__ = ["PasskeyService", "invalid_credential"]
