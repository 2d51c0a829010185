"""Repositories of the second factors: authenticators, recovery codes and the
sign-ins waiting for a factor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from webapp.domain.mfa import MfaChallenge, RecoveryCode, TotpDevice
from webapp.infrastructure.orm import MfaChallengeRow, RecoveryCodeRow, TotpDeviceRow
from webapp.infrastructure.repositories import _Mapped


class SqlTotpRepository(_Mapped[TotpDevice, TotpDeviceRow]):
    entity, row = TotpDevice, TotpDeviceRow

    def for_user(self, user_id: int) -> TotpDevice | None:
        return self._one(select(TotpDeviceRow).where(TotpDeviceRow.user_id == user_id)
                         .with_for_update())

    def add(self, device: TotpDevice) -> None:
        self._insert(device)

    def save(self, device: TotpDevice) -> None:
        self._save(device)

    def remove_for_user(self, user_id: int) -> None:
        self.session.execute(delete(TotpDeviceRow).where(TotpDeviceRow.user_id == user_id))

    def batch_after(self, after_id: int, limit: int) -> list[TotpDevice]:
        return self._all(select(TotpDeviceRow).where(TotpDeviceRow.id > after_id)
                         .order_by(TotpDeviceRow.id).limit(limit).with_for_update())


class SqlRecoveryCodeRepository(_Mapped[RecoveryCode, RecoveryCodeRow]):
    entity, row = RecoveryCode, RecoveryCodeRow

    def unused(self, user_id: int) -> list[RecoveryCode]:
        return self._all(select(RecoveryCodeRow)
                         .where(RecoveryCodeRow.user_id == user_id,
                                RecoveryCodeRow.used_at.is_(None))
                         .order_by(RecoveryCodeRow.id).with_for_update())

    def replace_all(self, user_id: int, codes: list[RecoveryCode]) -> None:
        self.session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user_id))
        for code in codes:
            self._insert(code)

    def save(self, code: RecoveryCode) -> None:
        self._save(code)


class SqlMfaChallengeRepository(_Mapped[MfaChallenge, MfaChallengeRow]):
    entity, row = MfaChallenge, MfaChallengeRow

    def add(self, challenge: MfaChallenge) -> None:
        self.session.add(self._copy(challenge, MfaChallengeRow()))
        self._flush()

    def get(self, challenge_id: str, *, lock: bool = False) -> MfaChallenge | None:
        stmt = select(MfaChallengeRow).where(MfaChallengeRow.id == challenge_id)
        return self._one(stmt.with_for_update() if lock else stmt)

    def save(self, challenge: MfaChallenge) -> None:
        self._save(challenge)

    def remove_expired(self, now: datetime) -> None:
        self.session.execute(delete(MfaChallengeRow).where(MfaChallengeRow.expires_at < now))
