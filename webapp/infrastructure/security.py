"""Crypto adapters, each a thin wrapper around a well-kept library (nothing hand-rolled)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher as Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import ARGON2_VERSION
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from webapp.domain.errors import InvalidToken
from webapp.infrastructure.optional_imports import import_without

REQUIRED_CLAIMS = ["sub", "type", "iat", "exp", "jti", "iss"]


# PyJWT imports cryptography whenever it is installed, for its RSA, EC and EdDSA
# algorithms: its Rust extension adds ~6 MiB of RSS to every worker. The codec signs
# with a pinned HMAC algorithm (HS256), which PyJWT implements with ``hmac``: imported
# without cryptography, it offers the HMAC algorithms (and ``none``) and nothing else.
jwt = import_without("jwt", "cryptography")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Argon2Hasher:
    """argon2id; OWASP's parameters by default (19 MiB, t=2, p=1)."""

    def __init__(self, memory_cost: int = 19 * 1024, time_cost: int = 2,
                 parallelism: int = 1) -> None:
        self._argon = Argon2(time_cost=time_cost, memory_cost=memory_cost,
                             parallelism=parallelism, type=Type.ID)
        self._dummy = self._dummy_hash()

    def _dummy_hash(self) -> str:
        """For unknown accounts: an encoded hash with this hasher's parameters, a random salt
        and a random digest, which no password matches and whose verification costs what a
        real one does. Not hashed here: that would take the 19 MiB argon2 buffer (and a
        hash's CPU) in every process at start-up."""
        argon = self._argon

        def b64(size: int) -> str:
            return base64.b64encode(secrets.token_bytes(size)).decode().rstrip("=")

        return (f"$argon2id$v={ARGON2_VERSION}$m={argon.memory_cost},t={argon.time_cost},"
                f"p={argon.parallelism}${b64(argon.salt_len)}${b64(argon.hash_len)}")

    def hash(self, password: str) -> str:
        return self._argon.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._argon.check_needs_rehash(password_hash)

    def dummy_verify(self, password: str) -> None:
        self.verify(self._dummy, password)


class HmacCodeHasher:
    """HMAC-SHA256 keyed with a secret derived from SECRET_KEY; compared in constant time."""

    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"one-time-code:" + secret_key.encode()).digest()

    def hash(self, code: str) -> str:
        return hmac.new(self._key, code.encode(), hashlib.sha256).hexdigest()

    def matches(self, code: str, code_hash: str) -> bool:
        return hmac.compare_digest(self.hash(code), code_hash)


class ItsDangerousSigner:
    """Timed, URL-safe signatures; the purpose is the salt, so tokens never cross purposes."""

    def __init__(self, secret_key: str) -> None:
        self._secret = secret_key

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._secret, salt=f"webapp.{purpose}")

    def dumps(self, purpose: str, payload: dict[str, Any]) -> str:
        return str(self._serializer(purpose).dumps(payload))

    def loads(self, purpose: str, token: str, max_age: int) -> dict[str, Any]:
        return self.loads_dated(purpose, token, max_age)[0]

    def loads_dated(self, purpose: str, token: str, max_age: int
                    ) -> tuple[dict[str, Any], datetime]:
        try:
            payload, signed = self._serializer(purpose).loads(token, max_age=max_age,
                                                              return_timestamp=True)
        except SignatureExpired as exc:
            raise InvalidToken("This link has expired. Request a new one.",
                               code="token_expired") from exc
        except (BadSignature, UnicodeError, ValueError) as exc:
            raise InvalidToken() from exc
        if not isinstance(payload, dict):
            raise InvalidToken()
        return payload, signed


# Several app servers' clocks never agree exactly: without a margin, a token signed by a
# server a little ahead is "not yet valid" (iat) on the others for up to a second.
CLOCK_SKEW = 5  # seconds; also how late an expired token is still taken


class PyJwtCodec:
    """HS256 (or another pinned algorithm) with every claim of the contract required.

    A client sends the same access token with every request of its lifetime, so each
    process remembers up to ``VERIFIED`` tokens that PyJWT has verified, with their
    claims, until they expire: the same bytes verify the same way under the same key, so
    only the expiry (``exp`` plus the leeway, the one check that depends on the time)
    is looked at again. Whether the token is still honoured (a logout, a password change,
    a deactivation) is decided after decoding, on every request, as before.
    """

    VERIFIED = 256

    def __init__(self, key: str, issuer: str, algorithm: str = "HS256",
                 leeway: int = CLOCK_SKEW) -> None:
        self._key = key
        self._issuer = issuer
        self._algorithm = algorithm
        self._leeway = leeway
        self._verified: dict[str, tuple[dict[str, Any], float]] = {}

    def encode(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm=self._algorithm)

    def decode(self, token: str) -> dict[str, Any]:
        known = self._verified.get(token)
        if known is not None:
            claims, until = known
            if time.time() < until:  # PyJWT's own test: exp > now - leeway
                return dict(claims)
            self._verified.pop(token, None)
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[self._algorithm], issuer=self._issuer,
                leeway=self._leeway, options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("The token has expired.", code="token_expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("The token is invalid.") from exc
        self._remember(token, claims)
        return claims

    def _remember(self, token: str, claims: dict[str, Any]) -> None:
        verified = self._verified
        if len(verified) >= self.VERIFIED:
            with contextlib.suppress(StopIteration, RuntimeError, KeyError):
                del verified[next(iter(verified))]  # the oldest
        verified[token] = (dict(claims), float(claims["exp"]) + self._leeway)
