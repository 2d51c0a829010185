"""DELIVERY=inline: a message is claimed for this process's delivery thread in the
transaction that queues it, and handed to the thread after the commit, so sending it takes
no claim transaction (on SQLite: no BEGIN IMMEDIATE to claim, none to find nothing left).
What a process cannot send (a lease run short, a stop) goes back to the outbox at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import PASSWORD, Outbox, make_app
from tests.fakes import FakeMailer
from tests.helpers.gunicorn import Server, Worker
from webapp.domain.model import MessageKind, MessageStatus, OutboxMessage
from webapp.extensions import db
from webapp.gunicorn_conf import worker_exit
from webapp.infrastructure import dispatch


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    # No poll during the test: every claim seen is one the handover did not spare.
    app = make_app(tmp_path, DELIVERY="inline", DELIVERY_BACKOFF_SECONDS=600)
    app.extensions["services"].delivery.mailer = FakeMailer()
    assert app.test_client().get("/healthz").status_code == 200  # starts the thread
    assert app.extensions["outbox_dispatcher"].wait_idle(5)  # its start-up claim is done
    yield app
    app.extensions["outbox_dispatcher"].stop(timeout=5)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _count_claims(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    delivery, claims = app.extensions["services"].delivery, []
    real = delivery.deliver_due

    def counted(worker: str, *args, **kwargs) -> int:  # noqa: ANN002, ANN003
        claims.append(worker)
        return real(worker, *args, **kwargs)

    monkeypatch.setattr(delivery, "deliver_due", counted)
    return claims


def _register(app: Flask, email: str) -> None:
    response = app.test_client().post("/api/auth/register/",
                                      json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.json


def _wait(check, timeout: float = 10.0):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


def test_a_message_queued_here_is_sent_after_the_commit_without_a_claim(app, monkeypatch):
    claims = _count_claims(app, monkeypatch)
    mailer = app.extensions["services"].delivery.mailer

    for n in range(3):
        _register(app, f"user{n}@example.com")
    assert app.extensions["outbox_dispatcher"].wait_idle(10)

    assert sorted(m["to"] for m in mailer.sent) == [f"user{n}@example.com" for n in range(3)]
    messages = Outbox(app).all("email")
    assert [(m.status, m.locked_by, m.attempts) for m in messages] == [("sent", None, 0)] * 3
    assert claims == []  # each went from the request's commit to the thread, from memory


def test_a_message_queued_here_is_claimed_by_this_process_in_its_own_transaction(app):
    dispatcher = app.extensions["outbox_dispatcher"]
    gate = threading.Event()
    app.extensions["services"].delivery.mailer.before_send = lambda: gate.wait(10)
    try:
        _register(app, "jane@example.com")
        [message] = _wait(lambda: Outbox(app).all("email", "jane@example.com"))
        # Committed already claimed: no other worker takes it while this one sends it.
        assert message.locked_by == dispatcher._claimant()  # noqa: SLF001
        assert message.locked_until is not None and message.status == "pending"
    finally:
        gate.set()
    assert dispatcher.wait_idle(10)
    assert [m.status for m in Outbox(app).all("email")] == ["sent"]


def test_a_handed_message_with_too_little_lease_left_goes_back_and_is_claimed_again(
        app, monkeypatch):
    delivery = app.extensions["services"].delivery
    claims = _count_claims(app, monkeypatch)
    real = delivery.claim_at_birth

    def short_lease(message: OutboxMessage, worker: str) -> None:
        real(message, worker)  # as if it had waited behind a slow SMTP server
        message.locked_until = delivery.now() + timedelta(seconds=1)

    monkeypatch.setattr(delivery, "claim_at_birth", short_lease)
    _register(app, "jane@example.com")

    sent = _wait(lambda: [m for m in Outbox(app).all("email") if m.status == "sent"])
    assert len(sent) == 1
    assert len(delivery.mailer.sent) == 1  # sent once, after being handed back
    assert claims  # the thread looked in the outbox for what it had handed back


def test_stopping_finishes_the_message_in_hand_and_hands_back_the_rest(app):
    dispatcher = app.extensions["outbox_dispatcher"]
    mailer = app.extensions["services"].delivery.mailer
    in_hand, go_on = threading.Event(), threading.Event()
    mailer.before_send = lambda: (in_hand.set(), go_on.wait(10))
    _register(app, "first@example.com")
    assert in_hand.wait(10), "the delivery thread never took the message"
    _register(app, "second@example.com")  # handed over while the first is being sent
    _register(app, "third@example.com")

    exiting = threading.Thread(target=worker_exit, args=(Server(), Worker(app)))
    exiting.start()  # gunicorn's worker_exit, while the first send is in progress
    _wait(lambda: dispatcher._stopping.is_set())  # noqa: SLF001
    go_on.set()
    exiting.join(15)
    assert not exiting.is_alive(), "worker_exit did not return"

    assert [m["to"] for m in mailer.sent] == ["first@example.com"]
    by_address = {m.payload["to"]: m for m in Outbox(app).all("email")}
    assert by_address["first@example.com"].status == "sent"
    for address in ("second@example.com", "third@example.com"):
        message = by_address[address]
        # Any worker's next claim takes them now, not when the lease would have ended.
        assert (message.status, message.locked_by, message.attempts) == ("pending", None, 0)


def test_a_forked_child_drops_the_parents_handed_messages_and_claims_under_its_own_name(
        app, monkeypatch):
    dispatcher = app.extensions["outbox_dispatcher"]
    parent = dispatcher._claimant()  # noqa: SLF001
    dispatcher._handed.append(OutboxMessage(  # noqa: SLF001 - the parent's, in flight
        kind=MessageKind.EMAIL, payload={}, created_at=dispatcher.delivery.now(),
        next_attempt_at=dispatcher.delivery.now(), locked_by=parent))

    dispatch._forked()  # noqa: SLF001 - what os.register_at_fork runs in the child
    monkeypatch.setattr(dispatch.os, "getpid", lambda: -1)

    assert not dispatcher._handed  # noqa: SLF001 - the parent sends its own
    assert dispatcher._claimant() not in ("", parent)  # noqa: SLF001


def test_mark_sent_changes_nothing_once_another_worker_holds_the_lease(app):
    _register(app, "jane@example.com")
    assert app.extensions["outbox_dispatcher"].wait_idle(10)
    [message] = Outbox(app).all("email")
    services = app.extensions["services"]
    with app.app_context():
        with services.delivery.ports.uow() as uow:
            stored = uow.outbox.get(message.id)
            stored.status, stored.locked_by = MessageStatus.PENDING, "other"
            uow.outbox.save(stored)
            uow.commit()
        with services.delivery.ports.uow() as uow:
            assert not uow.outbox.mark_sent(message.id, "mine", services.delivery.now(), None)
            assert uow.outbox.mark_sent(message.id, "other", services.delivery.now(),
                                        {"to": "jane@example.com", "redacted": True})
            uow.commit()
    [after] = Outbox(app).all("email")
    assert (after.status, after.locked_by, after.payload) == (
        "sent", None, {"to": "jane@example.com", "redacted": True})
    assert isinstance(after.sent_at, datetime) and after.locked_until is None
