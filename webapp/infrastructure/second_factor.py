"""The second factor's adapters: TOTP by pyotp, its QR code by segno, the secrets sealed
at rest by cryptography's (Multi)Fernet. Each library is imported on first use: an app
server that never sets up a factor never loads them."""

from __future__ import annotations

import base64
import hmac
from datetime import datetime
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

# TOTP as authenticator apps expect it (RFC 6238 defaults): 6 digits, 30 s, SHA-1.
DIGITS = 6
INTERVAL = 30


def derived_key(secret_key: str) -> bytes:
    """A Fernet key derived from SECRET_KEY with HKDF, for when no MFA_ENCRYPTION_KEY is
    set: a database dump alone then reveals no TOTP secret."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"webapp-mfa",
                info=b"totp secrets at rest")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


class FernetSecretBox:
    """Seals with the first key; opens with any (MFA_ENCRYPTION_KEY's keys, newest first,
    then the SECRET_KEY-derived one), so keys rotate without re-enrolling anyone."""

    def __init__(self, secret_key: str, keys: str = "") -> None:
        self._keys = [key.strip().encode() for key in keys.split(",") if key.strip()]
        self._secret_key = secret_key

    @cached_property
    def _fernet(self) -> Any:
        # The derived key too on first use: HKDF is cryptography's, whose Rust extension
        # costs a process ~6 MiB of RSS, and most app servers never open a secret.
        from cryptography.fernet import Fernet, MultiFernet

        keys = [*self._keys, derived_key(self._secret_key)]
        return MultiFernet([Fernet(key) for key in keys])

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("no configured key opens this secret") from exc


class PyOtpAuthenticators:
    def new_secret(self) -> str:
        import pyotp

        return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends

    def provisioning_uri(self, secret: str, account: str, issuer: str) -> str:
        """Google's Key Uri Format (6 digits and 30 s are its defaults, so unsaid). Apps
        split the label ``issuer:account`` at its first colon and read it as one path
        segment: neither may hold a colon, and every character is escaped, a '/' too
        (pyotp leaves it, so an address such as a/b@example.com broke the label)."""
        issuer, account = (" ".join(text.replace(":", " ").split()) for text in (issuer, account))
        label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
        query = urlencode({"secret": secret, "issuer": issuer}, quote_via=quote)
        return f"otpauth://totp/{label}?{query}"

    def matching_step(self, secret: str, code: str, now: datetime, drift: int) -> int | None:
        import pyotp

        totp = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
        current = totp.timecode(now)
        found = None
        for step in range(current - drift, current + drift + 1):  # every step compared
            if hmac.compare_digest(totp.generate_otp(step), code):
                found = step
        return found

    def qr_svg(self, uri: str) -> str:
        import segno

        return segno.make(uri, error="m").svg_inline(
            scale=4, border=2, title="QR code for your authenticator app")
