"""Many `flask worker` processes on one PostgreSQL: each message delivered exactly once.

Workers claim with SELECT ... FOR UPDATE SKIP LOCKED under a lease; a worker that
dies mid-job loses its claim when the lease expires, and another delivers it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask import Flask

from tests.e2e.processes import SmtpSink, running, start_worker
from tests.e2e.servers import app_env, wait_for
from webapp.domain.model import MessageKind, OutboxMessage
from webapp.extensions import db
from webapp.infrastructure.orm import OutboxRow

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def queue_emails(app: Flask, count: int) -> list[str]:
    keys = [f"scale-{n}" for n in range(count)]
    now = datetime.now(UTC)
    with app.app_context(), app.extensions["ports"].uow() as uow:
        for key in keys:
            uow.outbox.add(OutboxMessage(
                kind=MessageKind.EMAIL, created_at=now, next_attempt_at=now,
                idempotency_key=key,
                payload={"to": f"{key}@example.com", "subject": key, "text": key}))
        uow.commit()
    return keys


def rows(app: Flask) -> list[OutboxRow]:
    with app.app_context():
        found = db.session.scalars(db.select(OutboxRow).order_by(OutboxRow.id)).all()
        db.session.expunge_all()
        db.session.remove()
        return list(found)


def worker_env(app: Flask, sink: SmtpSink, lease: int = 60) -> dict[str, str]:
    return app_env(app.config["SQLALCHEMY_DATABASE_URI"], DELIVERY="worker",
                   MAIL_SERVER="127.0.0.1", MAIL_PORT=str(sink.port),
                   DELIVERY_LEASE_SECONDS=str(lease))


def test_many_workers_deliver_every_message_exactly_once(app: Flask) -> None:
    keys = queue_emails(app, 60)
    with SmtpSink() as sink:
        # The first message sent waits until others have been delivered: by another worker,
        # since its own is blocked. (Unheld, one worker may send all 60 before the others
        # have started: sharing would be left to the timing.)
        sink.hold_first()
        env = worker_env(app, sink)
        workers = [start_worker(env, "--burst", "--batch", "3") for _ in range(4)]
        with running(workers):
            wait_for(lambda: len(sink.keys) >= 3, 60, what="another worker to send")
            sink.release()
            outputs = [w.communicate(timeout=120)[0] for w in workers]
        assert [w.returncode for w in workers] == [0, 0, 0, 0], outputs
        assert sorted(sink.keys) == sorted(keys)  # every one, none twice
    assert {r.status for r in rows(app)} == {"sent"}
    tried = [int(m.group(1)) for out in outputs
             for m in [re.search(r"(\d+) message\(s\) tried", out)] if m]
    assert sum(tried) == len(keys), outputs
    assert sum(1 for n in tried if n) >= 2, "the work was not shared between workers"


def test_a_killed_workers_job_is_delivered_once_by_another_after_its_lease(app: Flask) -> None:
    [key] = queue_emails(app, 1)
    with SmtpSink() as sink:
        sink.hold_first()
        env = worker_env(app, sink, lease=2)
        doomed = start_worker(env, "--idle-sleep", "0.1")
        with running([doomed]):
            wait_for(sink.held.is_set, 60, what="the first worker to start sending")
            doomed.kill()  # SIGKILL mid-job: no chance to clean up
            doomed.wait(10)
        sink.release()  # the dead worker's connection is gone: it never gets the 250
        [row] = rows(app)
        assert row.status == "pending" and row.locked_by, "the dead worker's claim remains"
        survivor = start_worker(env, "--idle-sleep", "0.1")
        with running([survivor]):
            wait_for(lambda: rows(app)[0].status == "sent", 60, what="the lease to expire")
        assert survivor.returncode == 0
    assert sink.keys == [key]  # the dead worker's try was never accepted; the survivor's once
    [row] = rows(app)
    assert row.locked_by is None and row.attempts == 0


def test_sigterm_finishes_the_message_in_hand_and_hands_back_the_rest(app: Flask) -> None:
    first, *rest = queue_emails(app, 5)
    with SmtpSink() as sink:
        sink.hold_first()
        worker = start_worker(worker_env(app, sink), "--batch", "5")
        with running([worker]):
            wait_for(sink.held.is_set, 60, what="the worker to start sending")
            worker.terminate()  # SIGTERM while the first message is in hand
            sink.release()
            output, _ = worker.communicate(timeout=30)
        assert worker.returncode == 0, output
        assert sink.keys == [first]
    statuses = [(r.status, r.locked_by) for r in rows(app)]
    assert statuses == [("sent", None)] + [("pending", None)] * len(rest)
