"""Proving a passkey: the WebAuthn challenges and the check of an assertion, shared by
the passwordless sign-in (passkeys.py), the second factor and re-authentication (mfa.py).

A challenge is 32 random bytes, stored only as its SHA-256, bound to its purpose and its
user, good for 5 minutes and used once whatever the outcome (a replay finds it spent).
The credential's own claims (its id, the challenge it answers, the user handle) are read
by the WebAuthn adapter before anything is trusted; its signature, origin, RP id and
flags are verified by the adapter (py_webauthn); the counter rule is the domain's. Every
refusal is one ``invalid_credential`` (400) and one ``passkey_refused`` audit line with
the reason; the caller commits it (``uow.commit_and_raise``) so the spent challenge and
the audit line stay.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any, NoReturn

from webapp.application.common import Ports, Service
from webapp.application.interfaces import CredentialInfo, UnitOfWork, WebAuthn
from webapp.domain.errors import InvalidToken
from webapp.domain.model import User
from webapp.domain.passkeys import CHALLENGE_TTL, ChallengePurpose, Passkey, WebAuthnChallenge

INVALID_CREDENTIAL = ("The passkey could not be verified. Try again, or use another way "
                      "to sign in.")


def invalid_credential() -> InvalidToken:
    return InvalidToken(INVALID_CREDENTIAL, code="invalid_credential")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def challenge_id(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


class PasskeyProof(Service):
    def __init__(self, ports: Ports, webauthn: WebAuthn) -> None:
        super().__init__(ports)
        self.webauthn = webauthn

    def new_challenge(self, uow: UnitOfWork, purpose: ChallengePurpose,
                      user: User | None) -> bytes:
        challenge, now = secrets.token_bytes(32), self.now()
        uow.webauthn_challenges.remove_expired(now)  # the table holds 5 minutes' worth
        uow.webauthn_challenges.add(WebAuthnChallenge(
            id=challenge_id(challenge), purpose=purpose.value, created_at=now,
            expires_at=now + CHALLENGE_TTL, user_id=user.id if user else None))
        return challenge

    def request_options(self, uow: UnitOfWork, purpose: ChallengePurpose,
                        user: User | None) -> dict[str, Any]:
        """Options for ``navigator.credentials.get``: the user's passkeys, or (no user) any
        discoverable credential of this site."""
        challenge = self.new_challenge(uow, purpose, user)
        allow = None if user is None else [(p.credential_id, p.transports)
                                           for p in uow.passkeys.for_user(user.id or 0)]
        return self.webauthn.authentication_options(challenge=challenge, allow=allow)

    def take_challenge(self, uow: UnitOfWork, credential: object, purpose: ChallengePurpose,
                       user: User | None) -> CredentialInfo:
        """The credential's claims, once its challenge is found live, for this purpose and
        user; the challenge is spent here, whatever comes next."""
        try:
            info = self.webauthn.read(credential)
        except ValueError as exc:
            self.refuse(uow, user, "malformed", detail=str(exc)[:200])
        record = uow.webauthn_challenges.get(challenge_id(info.challenge), lock=True)
        if record is None or record.purpose != purpose.value:
            self.refuse(uow, user, "unknown_challenge", purpose=purpose.value)
        if not record.is_live(self.now()):
            self.refuse(uow, user, "spent_challenge" if record.used_at else "expired_challenge")
        record.used_at = self.now()
        uow.webauthn_challenges.save(record)
        if user is not None and record.user_id != user.id:
            self.refuse(uow, user, "challenge_of_another_user")
        return info

    def prove(self, uow: UnitOfWork, credential: object, purpose: ChallengePurpose,
              user: User | None, *, require_user_verification: bool) -> Passkey:
        """The passkey this assertion proves (its counter and last use recorded); with no
        ``user``, whichever account the discoverable credential belongs to."""
        info = self.take_challenge(uow, credential, purpose, user)
        passkey = uow.passkeys.by_credential_id(info.credential_id)
        if passkey is None:
            self.refuse(uow, user, "unknown_credential")
        if user is not None and passkey.user_id != user.id:
            self.refuse(uow, user, "credential_of_another_user", owner_id=passkey.user_id)
        owner = user or uow.users.get(passkey.user_id)  # whose account the audit line is on
        if info.user_handle is not None and b64url(info.user_handle) != passkey.user_handle:
            self.refuse(uow, owner, "user_handle_mismatch", passkey_id=passkey.id)
        try:
            result = self.webauthn.verify_authentication(
                credential, info.challenge, passkey.public_key, require_user_verification)
        except ValueError as exc:
            self.refuse(uow, owner, "not_verified", passkey_id=passkey.id,
                        detail=str(exc)[:200])
        if result.backup_eligible != passkey.backup_eligible:  # fixed for a credential's life
            self.refuse(uow, owner, "backup_eligibility_changed", passkey_id=passkey.id)
        if not passkey.counter_moves_on(result.sign_count):
            self.refuse(uow, owner, "counter_regressed", passkey_id=passkey.id,
                        stored=passkey.sign_count, received=result.sign_count)
        passkey.sign_count, passkey.backed_up = result.sign_count, result.backed_up
        passkey.last_used_at = self.now()
        uow.passkeys.save(passkey)
        return passkey

    def refuse(self, uow: UnitOfWork, user: User | None, reason: str,
               **data: object) -> NoReturn:
        self.audit(uow, "passkey_refused", user, reason=reason, **data)
        raise invalid_credential()
