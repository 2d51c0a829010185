"""Repositories of the second factors: authenticator apps, recovery codes, pending
sign-ins, passkeys and WebAuthn challenges."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from webapp.domain.mfa import MfaChallenge, RecoveryCode, TotpDevice
from webapp.domain.passkeys import Passkey, WebAuthnChallenge


class TotpRepository(Protocol):
    def for_user(self, user_id: int) -> TotpDevice | None:
        """The user's authenticator (confirmed, or waiting for its first code)."""
        ...

    def add(self, device: TotpDevice) -> None: ...

    def save(self, device: TotpDevice) -> None: ...

    def remove_for_user(self, user_id: int) -> None: ...

    def batch_after(self, after_id: int, limit: int) -> list[TotpDevice]:
        """Up to ``limit`` authenticators with an id above ``after_id``, by id, locked
        (to go through them all, a batch per transaction)."""
        ...


class RecoveryCodeRepository(Protocol):
    def unused(self, user_id: int) -> list[RecoveryCode]: ...

    def replace_all(self, user_id: int, codes: list[RecoveryCode]) -> None:
        """The user's codes become these (the old set dies)."""
        ...

    def save(self, code: RecoveryCode) -> None: ...


class MfaChallengeRepository(Protocol):
    def add(self, challenge: MfaChallenge) -> None: ...

    def get(self, challenge_id: str, *, lock: bool = False) -> MfaChallenge | None: ...

    def save(self, challenge: MfaChallenge) -> None: ...

    def remove_expired(self, now: datetime) -> None:
        """Forget pending sign-ins that expired (each names the identifier it began with)."""
        ...


class PasskeyRepository(Protocol):
    def for_user(self, user_id: int) -> list[Passkey]:
        """Oldest first."""
        ...

    def by_credential_id(self, credential_id: str) -> Passkey | None: ...

    def add(self, passkey: Passkey) -> None: ...

    def save(self, passkey: Passkey) -> None: ...

    def remove(self, passkey_id: int) -> None: ...

    def remove_for_user(self, user_id: int) -> None: ...


class WebAuthnChallengeRepository(Protocol):
    def add(self, challenge: WebAuthnChallenge) -> None: ...

    def get(self, challenge_id: str, *, lock: bool = False) -> WebAuthnChallenge | None: ...

    def save(self, challenge: WebAuthnChallenge) -> None: ...

    def remove_expired(self, now: datetime) -> None:
        """Forget challenges that expired (a replay of one is refused all the same)."""
        ...

    def remove_for_user(self, user_id: int) -> None:
        """Forget the user's challenges: a ceremony under way for them is refused."""
        ...
