"""Delivery timing: the configurable backoff, and never sending on a lease that is running out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes import make_world
from webapp.application.delivery import backoff
from webapp.application.policy import Policy
from webapp.domain.errors import NotFound
from webapp.domain.model import MessageKind, MessageStatus, OutboxMessage


def queue(world, kind: MessageKind = MessageKind.EMAIL, to: str = "a@example.com") -> None:
    payload = ({"to": to, "subject": "Hi", "text": "hello", "html": ""}
               if kind == MessageKind.EMAIL else {"to": to, "body": "hello"})
    if kind == MessageKind.STRIPE_CUSTOMER:
        payload = {"user_id": 1}
    with world.ports.uow() as uow:
        now = world.clock.now()
        uow.outbox.add(OutboxMessage(kind=kind, payload=payload, created_at=now,
                                     next_attempt_at=now))
        uow.commit()


def test_backoff_doubles_from_the_configured_base_and_is_capped():
    base = timedelta(seconds=2)
    assert [backoff(n, base).total_seconds() for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff(40, base) == timedelta(hours=1)


def test_a_failed_send_waits_the_configured_backoff_then_succeeds_once():
    world = make_world(Policy(delivery_backoff=timedelta(seconds=3)))
    queue(world)
    world.mailer.fail_times = 1

    assert world.services.delivery.deliver_due("w1") == 1
    [message] = world.emails()
    assert message.status == MessageStatus.PENDING and message.attempts == 1
    assert message.next_attempt_at == world.clock.now() + timedelta(seconds=3)
    assert "smtp down" in (message.last_error or "")

    world.clock.advance(seconds=2)
    assert world.services.delivery.deliver_due("w1") == 0  # not due yet
    world.clock.advance(seconds=1)
    assert world.services.delivery.deliver_due("w1") == 1
    assert [m.status for m in world.emails()] == [MessageStatus.SENT]
    assert len(world.mailer.sent) == 1


class SlowMailer:
    """Each send takes ``seconds`` of the (fake) clock, like an SMTP server near its timeout."""

    def __init__(self, world, seconds: float) -> None:
        self.world, self.seconds, self.sent = world, seconds, []

    def send(self, to: str, subject: str, text: str, html: str, message_id: str) -> None:
        self.world.clock.advance(seconds=self.seconds)
        self.sent.append(message_id)


def test_a_slow_batch_does_not_send_on_an_expiring_lease_and_nothing_is_sent_twice():
    world = make_world(Policy(delivery_lease=timedelta(seconds=60),
                              delivery_send_budget=timedelta(seconds=30)))
    slow = SlowMailer(world, seconds=20)
    world.services.delivery.mailer = slow
    for n in range(3):
        queue(world, to=f"user{n}@example.com")

    # 20 s per send: after two sends only 20 s of the 60 s lease is left, below the budget.
    assert world.services.delivery.deliver_due("w1") == 3
    statuses = [m.status for m in sorted(world.emails(), key=lambda m: m.id)]
    assert statuses == [MessageStatus.SENT, MessageStatus.SENT, MessageStatus.PENDING]
    left = max(world.emails(), key=lambda m: m.id)
    assert left.attempts == 0 and left.locked_by is None  # released, not spent

    # The released message is claimable at once, by any worker, and is sent exactly once.
    assert world.services.delivery.deliver_due("w2") == 1
    world.clock.advance(seconds=120)
    assert world.services.delivery.deliver_due("w3") == 0
    assert len(slow.sent) == len(set(slow.sent)) == 3


def test_recent_messages_lists_email_and_sms_newest_first_without_billing_jobs():
    world = make_world()
    queue(world, MessageKind.EMAIL, "first@example.com")
    queue(world, MessageKind.STRIPE_CUSTOMER)
    queue(world, MessageKind.SMS, "+14155550123")

    recent = world.services.delivery.recent_messages()
    assert [m.destination for m in recent] == ["+14155550123", "first@example.com"]
    assert world.services.delivery.message(recent[1].id).payload["subject"] == "Hi"
    assert len(world.services.delivery.recent_messages(limit=1)) == 1


def test_an_unknown_message_is_not_found():
    with pytest.raises(NotFound):
        make_world().services.delivery.message(999)
