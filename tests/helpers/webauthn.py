"""A software authenticator for tests: real ES256 keys (cryptography), real CBOR (cbor2,
py_webauthn's own dependency), 'none' attestation. It answers the JSON options the app
hands out with the JSON a browser's ``credential.toJSON()`` gives, so that the app's real
verification (py_webauthn) runs on it. Knobs make the bad cases: another origin or RP id,
no user verification, a counter that goes backwards, a tampered signature."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
AAGUID = bytes(16)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Key:
    credential_id: bytes
    private: ec.EllipticCurvePrivateKey
    user_handle: bytes
    rp_id: str
    count: int = 0

    def cose(self) -> bytes:
        numbers = self.private.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})


@dataclass
class SoftAuthenticator:
    origin: str = "http://localhost"
    rp_id: str | None = None  # None: the options' RP id (as a browser would)
    user_verified: bool = True
    counter: bool = True
    backup_eligible: bool = True  # the BE flag (fixed for a credential's life)
    keys: dict[bytes, Key] = field(default_factory=dict)

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        rp_id = self.rp_id or options["rp"]["id"]
        key = Key(os.urandom(32), ec.generate_private_key(ec.SECP256R1()),
                  unb64(options["user"]["id"]), rp_id)
        self.keys[key.credential_id] = key
        client_data = self._client_data("webauthn.create", options["challenge"])
        auth_data = (self._auth_data(rp_id, AT, 0) + AAGUID
                     + struct.pack(">H", len(key.credential_id)) + key.credential_id
                     + key.cose())
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {"id": b64(key.credential_id), "rawId": b64(key.credential_id),
                "type": "public-key", "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
                "response": {"clientDataJSON": b64(client_data),
                             "attestationObject": b64(attestation),
                             "transports": ["internal"]}}

    def get(self, options: dict[str, Any], key: Key | None = None, *,
            count: int | None = None) -> dict[str, Any]:
        """An assertion with ``key`` (default: the first allowed one this authenticator
        holds, else its first key). ``count``: the counter to claim."""
        key = key or self._pick(options)
        if count is not None:
            key.count = count
        elif self.counter:
            key.count += 1
        client_data = self._client_data("webauthn.get", options["challenge"])
        auth_data = self._auth_data(self.rp_id or key.rp_id, 0, key.count)
        signature = key.private.sign(auth_data + hashlib.sha256(client_data).digest(),
                                     ec.ECDSA(hashes.SHA256()))
        return {"id": b64(key.credential_id), "rawId": b64(key.credential_id),
                "type": "public-key", "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
                "response": {"clientDataJSON": b64(client_data),
                             "authenticatorData": b64(auth_data),
                             "signature": b64(signature),
                             "userHandle": b64(key.user_handle)}}

    def _pick(self, options: dict[str, Any]) -> Key:
        allowed = [unb64(c["id"]) for c in options.get("allowCredentials") or []]
        for credential_id in allowed:
            if credential_id in self.keys:
                return self.keys[credential_id]
        return next(iter(self.keys.values()))

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": self.origin,
                           "crossOrigin": False}).encode()

    def _auth_data(self, rp_id: str, extra_flags: int, count: int) -> bytes:
        flags = (UP | extra_flags | (UV if self.user_verified else 0)
                 | (BE if self.backup_eligible else 0))
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I",
                                                                                      count)
