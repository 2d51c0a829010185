"""Fakes of the second factor's ports: the secret box, the authenticator algorithm, and
the repositories of authenticators, recovery codes and pending sign-ins."""

from __future__ import annotations

import copy
import hashlib
import hmac
from datetime import datetime

from tests.fakes.storage import Store, _Repo
from webapp.application.interfaces import UniqueConflict
from webapp.domain.mfa import MfaChallenge, RecoveryCode, TotpDevice

STEP_SECONDS = 30


class FakeSecretBox:
    """Reversible and visibly sealed, so tests can see that nothing is stored in clear."""

    def seal(self, plain: str) -> str:
        return "sealed:" + plain[::-1]

    def open(self, sealed: str) -> str:
        if not sealed.startswith("sealed:"):
            raise ValueError("not sealed by this box")
        return sealed.removeprefix("sealed:")[::-1]


def fake_code(secret: str, step: int) -> str:
    """The fake authenticator's code for a step: what a test's 'phone' would show."""
    digest = hashlib.sha256(f"{secret}:{step}".encode()).hexdigest()
    return f"{int(digest[:8], 16) % 1_000_000:06d}"


class FakeAuthenticators:
    """TOTP's shape (30 s steps, a drift window) with a cheap, deterministic code."""

    def __init__(self) -> None:
        self.secrets = 0

    def new_secret(self) -> str:
        self.secrets += 1
        return f"SECRET{self.secrets:04d}"

    def provisioning_uri(self, secret: str, account: str, issuer: str) -> str:
        return f"otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}"

    def matching_step(self, secret: str, code: str, now: datetime, drift: int) -> int | None:
        current = step_at(now)
        for step in range(current - drift, current + drift + 1):
            if hmac.compare_digest(fake_code(secret, step), code):
                return step
        return None

    def qr_svg(self, uri: str) -> str:
        return f'<svg data-uri="{uri}"></svg>'


def step_at(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


class FakeTotpRepository(_Repo):
    def for_user(self, user_id: int) -> TotpDevice | None:
        return copy.deepcopy(next((d for d in self.state.totp.values()
                                   if d.user_id == user_id), None))

    def add(self, device: TotpDevice) -> None:
        if any(d.user_id == device.user_id for d in self.state.totp.values()):
            raise UniqueConflict("totp_devices.user_id")
        device.id = self._next_id()
        self.state.totp[device.id] = copy.deepcopy(device)

    def save(self, device: TotpDevice) -> None:
        self.state.totp[device.id or 0] = copy.deepcopy(device)

    def remove_for_user(self, user_id: int) -> None:
        self.state.totp = {k: d for k, d in self.state.totp.items() if d.user_id != user_id}

    def batch_after(self, after_id: int, limit: int) -> list[TotpDevice]:
        return [copy.deepcopy(self.state.totp[k]) for k in sorted(self.state.totp)
                if k > after_id][:limit]


class FakeRecoveryCodeRepository(_Repo):
    def unused(self, user_id: int) -> list[RecoveryCode]:
        return [copy.deepcopy(c) for c in self.state.recovery_codes.values()
                if c.user_id == user_id and c.used_at is None]

    def replace_all(self, user_id: int, codes: list[RecoveryCode]) -> None:
        self.state.recovery_codes = {k: c for k, c in self.state.recovery_codes.items()
                                     if c.user_id != user_id}
        for code in codes:
            code.id = self._next_id()
            self.state.recovery_codes[code.id] = copy.deepcopy(code)

    def save(self, code: RecoveryCode) -> None:
        self.state.recovery_codes[code.id or 0] = copy.deepcopy(code)


class FakeMfaChallengeRepository(_Repo):
    def add(self, challenge: MfaChallenge) -> None:
        self.state.mfa_challenges[challenge.id] = copy.deepcopy(challenge)

    def get(self, challenge_id: str, *, lock: bool = False) -> MfaChallenge | None:
        return copy.deepcopy(self.state.mfa_challenges.get(challenge_id))

    def save(self, challenge: MfaChallenge) -> None:
        self.state.mfa_challenges[challenge.id] = copy.deepcopy(challenge)

    def remove_expired(self, now: datetime) -> None:
        self.state.mfa_challenges = {k: c for k, c in self.state.mfa_challenges.items()
                                     if c.expires_at >= now}


__all__ = ["FakeAuthenticators", "FakeMfaChallengeRepository", "FakeRecoveryCodeRepository",
           "FakeSecretBox", "FakeTotpRepository", "Store", "fake_code", "step_at"]
