"""Repositories of passkeys and of the WebAuthn challenges handed to browsers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from webapp.domain.passkeys import Passkey, WebAuthnChallenge
from webapp.infrastructure.orm import PasskeyRow, WebAuthnChallengeRow
from webapp.infrastructure.repositories import _Mapped


class SqlPasskeyRepository(_Mapped[Passkey, PasskeyRow]):
    entity, row = Passkey, PasskeyRow

    def for_user(self, user_id: int) -> list[Passkey]:
        return self._all(select(PasskeyRow).where(PasskeyRow.user_id == user_id)
                         .order_by(PasskeyRow.id))

    def by_credential_id(self, credential_id: str) -> Passkey | None:
        return self._one(select(PasskeyRow).where(PasskeyRow.credential_id == credential_id)
                         .with_for_update())

    def add(self, passkey: Passkey) -> None:
        passkey.transports = list(passkey.transports)
        self._insert(passkey)

    def save(self, passkey: Passkey) -> None:
        self._save(passkey)

    def remove(self, passkey_id: int) -> None:
        self.session.execute(delete(PasskeyRow).where(PasskeyRow.id == passkey_id))

    def remove_for_user(self, user_id: int) -> None:
        self.session.execute(delete(PasskeyRow).where(PasskeyRow.user_id == user_id))


class SqlWebAuthnChallengeRepository(_Mapped[WebAuthnChallenge, WebAuthnChallengeRow]):
    entity, row = WebAuthnChallenge, WebAuthnChallengeRow

    def add(self, challenge: WebAuthnChallenge) -> None:
        self.session.add(self._copy(challenge, WebAuthnChallengeRow()))
        self._flush()

    def get(self, challenge_id: str, *, lock: bool = False) -> WebAuthnChallenge | None:
        stmt = select(WebAuthnChallengeRow).where(WebAuthnChallengeRow.id == challenge_id)
        return self._one(stmt.with_for_update() if lock else stmt)

    def save(self, challenge: WebAuthnChallenge) -> None:
        self._save(challenge)

    def remove_expired(self, now: datetime) -> None:
        self.session.execute(delete(WebAuthnChallengeRow)
                             .where(WebAuthnChallengeRow.expires_at < now))

    def remove_for_user(self, user_id: int) -> None:
        self.session.execute(delete(WebAuthnChallengeRow)
                             .where(WebAuthnChallengeRow.user_id == user_id))
