"""The outbox's SQLAlchemy repository: queued side effects, claimed under a lease."""

from __future__ import annotations

import dataclasses
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
# Due and not leased (or the lease ran out), oldest first; then leased to one worker.
# Core, like every statement of delivery and sign-in: the ORM's mappers stay unconfigured
# in a web worker that does nothing else (see repositories._user_by).
_DUE = (select(_OUTBOX)
        .where(_OUTBOX.c.status == MessageStatus.PENDING.value,
               _OUTBOX.c.next_attempt_at <= bindparam("now"),
               or_(_OUTBOX.c.locked_until.is_(None), _OUTBOX.c.locked_until < bindparam("now")))
        .order_by(_OUTBOX.c.next_attempt_at, _OUTBOX.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True))
_LEASE = (update(_OUTBOX).where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
          .values(locked_until=bindparam("until"), locked_by=bindparam("by")))


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
        rows = self.session.execute(_DUE, {"now": now, "limit": limit}).all()
        if not rows:
            return []
        self.session.execute(_LEASE, {"ids": [row.id for row in rows],
                                      "until": lease_until, "by": worker})
        return [dataclasses.replace(self._to_entity(row), locked_until=lease_until,
                                    locked_by=worker) for row in rows]

    def for_user(self, user_id: int, limit: int = 50) -> list[OutboxMessage]:
        return self._all(select(OutboxRow).where(OutboxRow.user_id == user_id)
                         .order_by(OutboxRow.id.desc()).limit(limit))

    def of_kinds(self, user_id: int, kinds: Sequence[MessageKind]) -> list[OutboxMessage]:
        return self._all(select(OutboxRow).where(
            OutboxRow.user_id == user_id, OutboxRow.kind.in_([kind.value for kind in kinds])))

    def latest(self, user_id: int, kind: MessageKind) -> OutboxMessage | None:
        found = self._all(select(OutboxRow).where(OutboxRow.user_id == user_id,
                                                  OutboxRow.kind == kind.value)
                          .order_by(OutboxRow.id.desc()).limit(1))
        return found[0] if found else None

    def recent(self, kinds: Sequence[MessageKind], limit: int = 50) -> list[OutboxMessage]:
        return self._all(select(OutboxRow)
                         .where(OutboxRow.kind.in_([kind.value for kind in kinds]))
                         .order_by(OutboxRow.id.desc()).limit(limit))
