"""Second factors: an authenticator app (TOTP), recovery codes, and the sign-in that waits
between a right password and a proven factor.

The numbers are the contract's: a code from an authenticator is accepted once (its 30 s
step is recorded and never accepted again), with one step of drift either way; a pending
sign-in lives 5 minutes and dies after 5 wrong codes; 10 recovery codes, each once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from webapp.domain.errors import InvalidToken

# A wrong second factor (400 ``invalid_code``): nothing to request, unlike an emailed code.
WRONG_CODE = ("The code is wrong or no longer valid. Check it and try again: a code from your "
              "authenticator app works once, within its 30 seconds; a recovery code works once.")
MFA_TOKEN_TTL = timedelta(minutes=5)
MAX_MFA_ATTEMPTS = 5
RECOVERY_CODE_COUNT = 10
RECOVERY_CODES_LOW = 3  # fewer left than this: the user is told


def few_codes_left(left: int) -> str:
    """What the notice after a recovery code was used says when few are left ("" if not
    few): "Only 2 are left", "Only 1 is left", "None are left"."""
    if left >= RECOVERY_CODES_LOW:
        return ""
    words = ("None are left" if left <= 0 else "Only 1 is left" if left == 1
             else f"Only {left} are left")
    return f" {words}: make new ones from your account's security page."
TOTP_DRIFT_STEPS = 1
TRUSTED_BROWSER_TTL = timedelta(days=30)


class Method(StrEnum):
    """How a second factor is proven (the ``methods`` a pending sign-in offers)."""

    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"
    PASSKEY = "passkey"


@dataclass(eq=False)
class TotpDevice:
    """An authenticator app. ``secret`` is stored sealed (encrypted); ``last_step`` is the
    newest 30 s step whose code was accepted: that step and older ones never are again."""

    user_id: int
    secret: str
    created_at: datetime
    confirmed_at: datetime | None = None
    last_step: int | None = None
    id: int | None = None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    def added_before(self, moment: datetime) -> bool:
        """Turned on before ``moment`` (a set-up never finished is no factor at all)."""
        return self.confirmed_at is not None and self.confirmed_at < moment

    def accepts(self, step: int) -> bool:
        return self.last_step is None or step > self.last_step


@dataclass(eq=False)
class RecoveryCode:
    """One of the codes shown once at set-up, stored only as a keyed hash."""

    user_id: int
    code_hash: str
    created_at: datetime
    used_at: datetime | None = None
    id: int | None = None


@dataclass(eq=False)
class MfaChallenge:
    """A sign-in whose password was right, waiting for its second factor (the
    ``mfa_token`` names it). ``fingerprint`` is the account's password state when it
    began: a password change kills it."""

    id: str
    user_id: int
    door: str
    channel: str
    account: str
    fingerprint: str
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    used_at: datetime | None = None

    def is_live(self, now: datetime) -> bool:
        return self.used_at is None and self.attempts < MAX_MFA_ATTEMPTS and now < self.expires_at


# Lower-case letters and digits without look-alikes (0/o, 1/l/i): 10 of them are ~49 bits.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 10


def new_recovery_code() -> str:
    code = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
    return f"{code[:5]}-{code[5:]}"


def wrong_code() -> InvalidToken:
    return InvalidToken(WRONG_CODE, code="invalid_code")


def clean_recovery_code(raw: str) -> str | None:
    """The code as stored (no dash, lower case), forgiving spaces; None if malformed."""
    code = "".join(raw.split()).replace("-", "").lower()
    if len(code) != RECOVERY_LENGTH or any(c not in RECOVERY_ALPHABET for c in code):
        return None
    return f"{code[:5]}-{code[5:]}"


def clean_totp_code(raw: str) -> str | None:
    code = "".join(raw.split()).replace("-", "")
    return code if len(code) == 6 and code.isascii() and code.isdigit() else None


@dataclass(frozen=True)
class MfaStatus:
    totp: bool
    passkeys: int
    recovery_codes_left: int


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    otpauth_uri: str
    qr_svg: str
