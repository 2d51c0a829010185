"""Passkeys (WebAuthn credentials): a second factor, and a sign-in on their own when the
authenticator verified its user (a PIN, a fingerprint): then it is both factors.

The numbers and rules: at most 10 passkeys per account; a challenge lives 5 minutes, is
bound to what it was made for (enrolling, a passwordless sign-in, a second factor,
re-authentication) and to its user, and is used once whatever the outcome; an
authenticator's signature counter may only go up (one that goes backwards suggests a
cloned key: refused and audited).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from webapp.domain.errors import ValidationFailed
from webapp.domain.names import unprintable_problem

MAX_PASSKEYS = 10
CHALLENGE_TTL = timedelta(minutes=5)
NAME_MAX_LENGTH = 64


class ChallengePurpose(StrEnum):
    """What a WebAuthn challenge was made for; a challenge proves nothing else."""

    REGISTER = "register"
    LOGIN = "login"  # a passwordless sign-in: no user yet (a discoverable credential)
    SECOND_FACTOR = "mfa"
    REAUTHENTICATE = "reauth"


@dataclass(eq=False)
class Passkey:
    """One registered credential. ``credential_id`` and ``public_key`` are base64url;
    ``user_handle`` is the random id the authenticator keeps for the account (the same for
    every passkey of one user); the backup flags are the authenticator's last word."""

    user_id: int
    credential_id: str
    public_key: str
    user_handle: str
    name: str
    created_at: datetime
    sign_count: int = 0
    transports: list[str] = field(default_factory=list)
    backup_eligible: bool = False
    backed_up: bool = False
    last_used_at: datetime | None = None
    id: int | None = None

    def counter_moves_on(self, new_count: int) -> bool:
        """Whether an assertion's counter is acceptable: authenticators that keep no
        counter send 0 every time; one that keeps one must send more than last time."""
        if new_count == 0 and self.sign_count == 0:
            return True
        return new_count > self.sign_count


@dataclass(eq=False)
class WebAuthnChallenge:
    """A challenge handed to a browser, stored as its SHA-256 (``id``)."""

    id: str
    purpose: str
    created_at: datetime
    expires_at: datetime
    user_id: int | None = None
    used_at: datetime | None = None

    def is_live(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


def clean_passkey_name(raw: str | None) -> str:
    """The name as shown in the list: spaces tidied, cut to 64 characters ("" for none);
    control and invisible characters refused, as in a person's name."""
    name = " ".join((raw or "").split())[:NAME_MAX_LENGTH]
    if problem := unprintable_problem(name):
        raise ValidationFailed.single("name", problem)
    return name
