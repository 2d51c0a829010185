"""Fakes of the passkeys' ports: the repositories, and a WebAuthn relying party with the
real one's shape (options, read, verify) over plain dicts, with ``FakePasskeyDevice`` as
the authenticator that answers it. The real verification (py_webauthn) is tested with a
software authenticator that signs for real (tests/helpers/webauthn.py)."""

from __future__ import annotations

import base64
import copy
import itertools
from datetime import datetime
from typing import Any

from tests.fakes.storage import _Repo
from webapp.application.interfaces import (
    CredentialInfo,
    NewCredential,
    UniqueConflict,
    VerifiedAssertion,
)
from webapp.domain.passkeys import Passkey, WebAuthnChallenge

ORIGIN = "http://localhost:5000"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakePasskeyRepository(_Repo):
    def for_user(self, user_id: int) -> list[Passkey]:
        return [copy.deepcopy(p) for p in sorted(self.state.passkeys.values(),
                                                 key=lambda p: p.id)
                if p.user_id == user_id]

    def by_credential_id(self, credential_id: str) -> Passkey | None:
        return copy.deepcopy(next((p for p in self.state.passkeys.values()
                                   if p.credential_id == credential_id), None))

    def add(self, passkey: Passkey) -> None:
        if self.by_credential_id(passkey.credential_id) is not None:
            raise UniqueConflict("passkeys.credential_id")
        passkey.id = self._next_id()
        self.state.passkeys[passkey.id] = copy.deepcopy(passkey)

    def save(self, passkey: Passkey) -> None:
        self.state.passkeys[passkey.id or 0] = copy.deepcopy(passkey)

    def remove(self, passkey_id: int) -> None:
        self.state.passkeys.pop(passkey_id, None)

    def remove_for_user(self, user_id: int) -> None:
        self.state.passkeys = {k: p for k, p in self.state.passkeys.items()
                               if p.user_id != user_id}


class FakeWebAuthnChallengeRepository(_Repo):
    def add(self, challenge: WebAuthnChallenge) -> None:
        self.state.webauthn_challenges[challenge.id] = copy.deepcopy(challenge)

    def get(self, challenge_id: str, *, lock: bool = False) -> WebAuthnChallenge | None:
        return copy.deepcopy(self.state.webauthn_challenges.get(challenge_id))

    def save(self, challenge: WebAuthnChallenge) -> None:
        self.state.webauthn_challenges[challenge.id] = copy.deepcopy(challenge)

    def remove_expired(self, now: datetime) -> None:
        self.state.webauthn_challenges = {k: c for k, c in
                                          self.state.webauthn_challenges.items()
                                          if c.expires_at >= now}

    def remove_for_user(self, user_id: int) -> None:
        self.state.webauthn_challenges = {k: c for k, c in
                                          self.state.webauthn_challenges.items()
                                          if c.user_id != user_id}


class FakeWebAuthn:
    """Credentials are dicts: ``{"id", "challenge", "origin", "type", ...}``; an assertion
    is "signed" by naming the public key it was made with (``signed_with``)."""

    def __init__(self, origin: str = ORIGIN) -> None:
        self.origin = origin

    def registration_options(self, *, challenge: bytes, user_handle: bytes, user_name: str,
                             display_name: str, exclude: list[str]) -> dict[str, Any]:
        return {"challenge": b64(challenge), "user": {"id": b64(user_handle),
                                                      "name": user_name,
                                                      "displayName": display_name},
                "excludeCredentials": [{"id": c, "type": "public-key"} for c in exclude]}

    def authentication_options(self, *, challenge: bytes,
                               allow: list[tuple[str, list[str]]] | None) -> dict[str, Any]:
        return {"challenge": b64(challenge), "userVerification":
                "required" if allow is None else "preferred",
                "allowCredentials": [{"id": c, "type": "public-key", "transports": t}
                                     for c, t in allow or []]}

    def read(self, credential: object) -> CredentialInfo:
        if not isinstance(credential, dict) or not all(
                isinstance(credential.get(k), str) for k in ("id", "challenge")):
            raise ValueError("malformed credential")
        handle = credential.get("user_handle")
        return CredentialInfo(credential_id=credential["id"],
                              challenge=unb64(credential["challenge"]),
                              user_handle=unb64(handle) if handle else None)

    def _check(self, credential: dict[str, Any], kind: str) -> None:
        if credential.get("type") != kind:
            raise ValueError(f"not a {kind} credential")
        if credential.get("origin") != self.origin:
            raise ValueError(f"unexpected origin {credential.get('origin')}")

    def verify_registration(self, credential: object, challenge: bytes) -> NewCredential:
        assert isinstance(credential, dict)
        self._check(credential, "webauthn.create")
        return NewCredential(credential_id=credential["id"],
                             public_key=credential["public_key"],
                             sign_count=credential.get("sign_count", 0),
                             transports=["internal"], backup_eligible=True, backed_up=False,
                             user_verified=credential.get("uv", True))

    def verify_authentication(self, credential: object, challenge: bytes, public_key: str,
                              require_user_verification: bool) -> VerifiedAssertion:
        assert isinstance(credential, dict)
        self._check(credential, "webauthn.get")
        if credential.get("signed_with") != public_key:
            raise ValueError("bad signature")
        if require_user_verification and not credential.get("uv", True):
            raise ValueError("user verification required")
        return VerifiedAssertion(sign_count=credential.get("sign_count", 0),
                                 backup_eligible=credential.get("be", True), backed_up=False,
                                 user_verified=credential.get("uv", True))


class FakePasskeyDevice:
    """An authenticator for FakeWebAuthn: makes credentials and answers challenges,
    keeping (like a real one) its credentials, their user handles and a counter."""

    _ids = itertools.count(1)

    def __init__(self, origin: str = ORIGIN, uv: bool = True, counter: bool = True) -> None:
        self.origin, self.uv, self.counter = origin, uv, counter
        self.credentials: dict[str, dict[str, Any]] = {}  # id -> key, handle, count

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        n = next(self._ids)
        cid = f"cred-{n}"
        self.credentials[cid] = {"key": f"key-{n}", "handle": options["user"]["id"],
                                 "count": 0}
        return {"id": cid, "challenge": options["challenge"], "origin": self.origin,
                "type": "webauthn.create", "public_key": f"key-{n}", "uv": self.uv}

    def get(self, options: dict[str, Any], credential_id: str | None = None) -> dict[str, Any]:
        cid = credential_id or next(iter(self.credentials))
        held = self.credentials[cid]
        if self.counter:
            held["count"] += 1
        return {"id": cid, "challenge": options["challenge"], "origin": self.origin,
                "type": "webauthn.get", "signed_with": held["key"], "uv": self.uv,
                "user_handle": held["handle"], "sign_count": held["count"]}
