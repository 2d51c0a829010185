"""DELIVERY=inline under gunicorn: a worker process stopping (SIGTERM on every deploy)
stops its delivery thread the way ``flask worker`` stops: the message in hand is finished
and marked, the rest of the batch is handed back at once. Killed mid-send instead, the
message would be sent again once its lease ran out (a duplicate) and the rest would wait."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import make_app
from tests.fakes import FakeMailer
from tests.helpers.gunicorn import Server, Worker
from webapp.extensions import db
from webapp.gunicorn_conf import worker_exit
from webapp.infrastructure.orm import OutboxRow


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path)  # DELIVERY=worker: the thread runs only when kicked below
    yield app
    app.extensions["outbox_dispatcher"].stop(timeout=5)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def rows(app: Flask) -> list[OutboxRow]:
    with app.app_context():
        result = db.session.scalars(db.select(OutboxRow).order_by(OutboxRow.id)).all()
        db.session.remove()
        return list(result)


def test_worker_exit_finishes_the_message_in_hand_and_hands_back_the_rest(app, register):
    for n in range(3):
        register(f"user{n}@example.com")
    mailer = FakeMailer()
    in_hand, go_on = threading.Event(), threading.Event()
    mailer.before_send = lambda: (in_hand.set(), go_on.wait(10))
    app.extensions["services"].delivery.mailer = mailer
    dispatcher = app.extensions["outbox_dispatcher"]
    dispatcher.kick()
    assert in_hand.wait(10), "the delivery thread never took a message"

    exiting = threading.Thread(target=worker_exit, args=(Server(), Worker(app)))
    exiting.start()  # gunicorn's worker_exit, while the first send is in progress
    go_on.set()
    exiting.join(15)
    assert not exiting.is_alive(), "worker_exit did not return"

    assert len(mailer.sent) == 1  # the one in hand, and no other after the stop
    first, *rest = rows(app)
    assert first.status == "sent" and first.locked_by is None
    assert [(r.status, r.locked_by, r.attempts) for r in rest] == [("pending", None, 0)] * 2
    dispatcher.kick()  # a late commit in the exiting process starts no new thread
    assert dispatcher.stop(timeout=5) and len(mailer.sent) == 1
