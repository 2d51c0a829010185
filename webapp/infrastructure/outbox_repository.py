"""The outbox's SQLAlchemy repository: queued side effects, claimed under a lease."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from webapp.domain.model import MessageKind, MessageStatus, OutboxMessage
from webapp.infrastructure.orm import OutboxRow
from webapp.infrastructure.repositories import _Mapped

_OUTBOX = OutboxRow.__table__
# Built once (see repositories._insert_into): sent, if still this worker's pending claim.
_MARK_SENT = (update(_OUTBOX)
              .where(_OUTBOX.c.id == bindparam("b_id"), _OUTBOX.c.locked_by == bindparam("b_by"),
                     _OUTBOX.c.status == MessageStatus.PENDING.value)
              .values(status=MessageStatus.SENT.value, sent_at=bindparam("sent_at"),
                      last_error=None, locked_until=None, locked_by=None))
_MARK_SENT_WITH_PAYLOAD = _MARK_SENT.values(payload=bindparam("payload"))


class SqlOutboxRepository(_Mapped[OutboxMessage, OutboxRow]):
    """``claim`` (inline delivery) may claim each message for its delivery thread as it is
    queued; ``added`` lists the messages queued in this transaction, which the unit of work
    hands to that thread after the commit."""

    entity, row = OutboxMessage, OutboxRow
    enums = {"kind": MessageKind, "status": MessageStatus}

    def __init__(self, session: Session,
                 claim: Callable[[OutboxMessage], None] | None = None) -> None:
        super().__init__(session)
        self.claim = claim
        self.added: list[OutboxMessage] = []

    def add(self, message: OutboxMessage) -> None:
        if self.claim is not None:
            self.claim(message)
        self._insert(message)
        self.added.append(message)

    def mark_sent(self, message_id: int, worker: str, now: datetime,
                  payload: dict[str, Any] | None) -> bool:
        parameters: dict[str, Any] = {"b_id": message_id, "b_by": worker, "sent_at": now}
        if payload is not None:
            parameters["payload"] = payload
        result = self.session.execute(
            _MARK_SENT if payload is None else _MARK_SENT_WITH_PAYLOAD, parameters)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def save(self, message: OutboxMessage) -> None:
        self._save(message)

    def get(self, message_id: int) -> OutboxMessage | None:
        row = self.session.get(OutboxRow, message_id, populate_existing=True)
        return self._to_entity(row) if row is not None else None

    def claim_due(self, now: datetime, lease_until: datetime, worker: str, limit: int
                  ) -> list[OutboxMessage]:
        """SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite serialises writers anyway."""
        rows = self.session.scalars(
            select(OutboxRow)
            .where(OutboxRow.status == MessageStatus.PENDING.value,
                   OutboxRow.next_attempt_at <= now,
                   or_(OutboxRow.locked_until.is_(None), OutboxRow.locked_until < now))
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            row.locked_until = lease_until
            row.locked_by = worker
        self.session.flush()
        return [self._to_entity(row) for row in rows]

    def for_user(self, user_id: int, limit: int = 50) -> list[OutboxMessage]:
        return self._all(select(OutboxRow).where(OutboxRow.user_id == user_id)
                         .order_by(OutboxRow.id.desc()).limit(limit))

    def recent(self, kinds: Sequence[MessageKind], limit: int = 50) -> list[OutboxMessage]:
        return self._all(select(OutboxRow)
                         .where(OutboxRow.kind.in_([kind.value for kind in kinds]))
                         .order_by(OutboxRow.id.desc()).limit(limit))
