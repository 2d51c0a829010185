"""Hashing, signing, the clock: the cryptographic and time ports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...

    def dummy_verify(self, password: str) -> None:
        """Spend the time of one verification, for accounts that do not exist."""
        ...


class CodeHasher(Protocol):
    """Keyed hash for short one-time codes (a database dump must not reveal them)."""

    def hash(self, code: str) -> str: ...

    def matches(self, code: str, code_hash: str) -> bool:
        """Constant-time comparison."""
        ...


class LinkSigner(Protocol):
    """Signed, timestamped, purpose-bound tokens for emailed links."""

    def dumps(self, purpose: str, payload: dict[str, Any]) -> str: ...

    def loads(self, purpose: str, token: str, max_age: int) -> dict[str, Any]:
        """The payload, or raises InvalidToken (bad signature, other purpose, expired)."""
        ...

    def loads_dated(self, purpose: str, token: str, max_age: int
                    ) -> tuple[dict[str, Any], datetime]:
        """As ``loads``, with when the token was signed (to the whole second, rounded
        down)."""
        ...


class TokenCodec(Protocol):
    """JWT encoding with a pinned algorithm and required claims."""

    def encode(self, claims: dict[str, Any]) -> str: ...

    def decode(self, token: str) -> dict[str, Any]:
        """The verified claims, or raises InvalidToken."""
        ...


class BreachedPasswords(Protocol):
    """A breached-password corpus (Have I Been Pwned's k-anonymity range API)."""

    def is_breached(self, password: str) -> bool:
        """True when the password is known breached; False when not or when unknowable."""
        ...


class SecretBox(Protocol):
    """Authenticated encryption of small secrets at rest (the TOTP secrets), with keys
    that can be rotated: ``open`` reads what any configured key sealed."""

    def seal(self, plain: str) -> str: ...

    def open(self, sealed: str) -> str:
        """The plain text, or raises ValueError when no key opens it."""
        ...


class Authenticators(Protocol):
    """TOTP (RFC 6238: 6 digits, 30 s steps, SHA-1, as authenticator apps expect)."""

    def new_secret(self) -> str:
        """A random base32 secret, as authenticator apps take it."""
        ...

    def provisioning_uri(self, secret: str, account: str, issuer: str) -> str:
        """The ``otpauth://`` URI that a QR code carries."""
        ...

    def matching_step(self, secret: str, code: str, now: datetime, drift: int) -> int | None:
        """The 30 s step (within ``drift`` steps of ``now``) whose code ``code`` is, else
        None. Compared in constant time."""
        ...

    def qr_svg(self, uri: str) -> str:
        """The URI as a QR code: an inline SVG element."""
        ...


@dataclass(frozen=True)
class CredentialInfo:
    """What a browser's credential says about itself, read before it is verified: which
    credential, the challenge it answers, and (discoverable ones) the user handle."""

    credential_id: str  # base64url
    challenge: bytes
    user_handle: bytes | None = None


@dataclass(frozen=True)
class NewCredential:
    """A verified registration (attestation)."""

    credential_id: str  # base64url
    public_key: str  # base64url of the COSE key
    sign_count: int
    transports: list[str]
    backup_eligible: bool
    backed_up: bool
    user_verified: bool


@dataclass(frozen=True)
class VerifiedAssertion:
    """A verified authentication (assertion). The counter is compared by the caller
    (domain rule: ``Passkey.counter_moves_on``)."""

    sign_count: int
    backup_eligible: bool
    backed_up: bool
    user_verified: bool


class WebAuthn(Protocol):
    """The WebAuthn relying party (its id, name and origin are the adapter's settings).
    Options are the JSON forms that ``PublicKeyCredential.parse*OptionsFromJSON`` take;
    every refusal (malformed, another origin or RP id, a bad signature) is a ValueError."""

    def registration_options(self, *, challenge: bytes, user_handle: bytes, user_name: str,
                             display_name: str, exclude: list[str]) -> dict[str, Any]: ...

    def authentication_options(self, *, challenge: bytes,
                               allow: list[tuple[str, list[str]]] | None) -> dict[str, Any]:
        """``allow``: (credential id, transports) of the user's passkeys; None asks for a
        discoverable credential (the browser offers the ones it has for this site)."""
        ...

    def read(self, credential: object) -> CredentialInfo:
        """The credential's id, challenge and user handle; ValueError when malformed."""
        ...

    def verify_registration(self, credential: object, challenge: bytes) -> NewCredential: ...

    def verify_authentication(self, credential: object, challenge: bytes, public_key: str,
                              require_user_verification: bool) -> VerifiedAssertion: ...
