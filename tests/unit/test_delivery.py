"""DeliveryService: the outbox delivered with leases, retries, backoff and idempotency keys."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes import make_world
from tests.helpers.world import EMAIL, PHONE, email_code, register, verified
from webapp.application.delivery import BILLING_OFF_RECHECK
from webapp.application.policy import Policy
from webapp.domain.errors import NotFound
from webapp.domain.model import MessageKind, MessageStatus


def deliver(world, worker="w1"):
    return world.services.delivery.deliver_due(worker)


def only(world, kind):
    [message] = [m for m in world.store.outbox.values() if m.kind == kind]
    return message


def test_email_and_sms_are_sent_with_stable_keys(world):
    register(world, email=EMAIL, phone=PHONE)
    assert deliver(world) == 2
    email, sms = only(world, MessageKind.EMAIL), only(world, MessageKind.SMS)
    assert [m["id"] for m in world.mailer.sent] == [f"outbox-{email.id}"]
    assert [m["id"] for m in world.sms.sent] == [f"outbox-{sms.id}"]
    assert world.mailer.sent[0]["to"] == EMAIL and world.sms.sent[0]["to"] == PHONE
    assert world.field_of(email, "code") in world.mailer.sent[0]["text"]
    for message in (email, sms):
        assert message.status == MessageStatus.SENT
        assert message.sent_at == world.clock.now()
        assert (message.locked_by, message.locked_until, message.attempts) == (None, None, 0)
    assert deliver(world) == 0  # nothing is sent twice


def test_a_failing_gateway_is_retried_with_backoff_under_the_same_key(world):
    register(world)
    world.mailer.fail_times = 2
    deliver(world)
    message = only(world, MessageKind.EMAIL)
    assert (message.status, message.attempts) == (MessageStatus.PENDING, 1)
    assert message.last_error == "ConnectionRefusedError: smtp down"
    assert message.next_attempt_at == world.clock.now() + timedelta(seconds=10)
    assert deliver(world) == 0  # not due yet

    world.clock.advance(seconds=10)
    deliver(world)
    assert only(world, MessageKind.EMAIL).next_attempt_at == world.clock.now() + timedelta(
        seconds=20)

    world.clock.advance(seconds=20)
    deliver(world)
    message = only(world, MessageKind.EMAIL)
    assert (message.status, message.attempts, message.last_error) == (
        MessageStatus.SENT, 2, None)
    assert [m["id"] for m in world.mailer.sent] == [f"outbox-{message.id}"]


def test_after_the_last_attempt_the_message_is_failed_and_staff_can_retry():
    world = make_world(Policy(delivery_max_attempts=3))
    register(world, email=None, phone=PHONE)
    world.sms.fail_times = 3
    for _ in range(3):
        deliver(world)
        world.clock.advance(hours=2)
    message = only(world, MessageKind.SMS)
    assert (message.status, message.attempts) == (MessageStatus.FAILED, 3)
    assert message.last_error == "TimeoutError: sms gateway timed out"
    assert deliver(world) == 0  # a failed message waits for staff
    assert world.sms.sent == []

    retried = world.services.delivery.retry(message.id)
    assert (retried.status, retried.attempts) == (MessageStatus.PENDING, 0)
    deliver(world)
    assert only(world, MessageKind.SMS).status == MessageStatus.SENT
    assert len(world.sms.sent) == 1


def test_retry_of_a_sent_message_changes_nothing_and_unknown_is_not_found(world):
    register(world)
    deliver(world)
    message = only(world, MessageKind.EMAIL)
    assert world.services.delivery.retry(message.id).status == MessageStatus.SENT
    assert deliver(world) == 0
    with pytest.raises(NotFound):
        world.services.delivery.retry(9999)


def test_a_lease_taken_over_by_another_worker_is_not_marked_by_the_first(world):
    """w1 stalls past its lease; w2 claims and delivers; w1's late failure changes nothing."""
    register(world)

    def stall_then_lose_the_lease() -> None:
        world.clock.advance(seconds=61)
        assert deliver(world, "w2") == 1
        world.mailer.fail_times = 1  # then w1's own send fails

    world.mailer.before_send = stall_then_lose_the_lease
    assert deliver(world, "w1") == 1

    message = only(world, MessageKind.EMAIL)
    assert message.status == MessageStatus.SENT
    assert (message.attempts, message.last_error) == (0, None)
    assert len(world.mailer.sent) == 1


def test_a_claimed_message_is_not_claimed_again_while_the_lease_runs(world):
    register(world)
    now = world.clock.now()
    with world.ports.uow() as uow:
        assert len(uow.outbox.claim_due(now, now + timedelta(seconds=60), "dead", 10)) == 1
        uow.commit()
    assert deliver(world, "w2") == 0
    world.clock.advance(seconds=61)  # the dead worker's lease ran out
    assert deliver(world, "w2") == 1
    assert only(world, MessageKind.EMAIL).status == MessageStatus.SENT


def test_bodies_are_scrubbed_after_delivery_unless_kept(world):
    world.services.delivery.keep_bodies = False
    register(world, email=EMAIL, phone=PHONE)
    code = email_code(world)
    deliver(world)
    for message in world.store.outbox.values():
        assert message.payload["redacted"] is True
        assert message.payload["to"] in (EMAIL, PHONE)
        assert code not in str(message.payload)
        assert "text" not in message.payload and "body" not in message.payload


def test_bodies_are_kept_when_asked(world):
    register(world)
    deliver(world)
    assert "code=" in only(world, MessageKind.EMAIL).payload["text"]


# --- Stripe customers --------------------------------------------------------------------


def test_a_verified_user_gets_exactly_one_customer(world):
    user = verified(world)
    deliver(world)
    [(customer_id, customer)] = world.billing.customers.items()
    assert customer["key"] == f"customer-create-{user.id}"
    assert customer["metadata"] == {"user_id": str(user.id)}
    assert customer["email"] == EMAIL
    assert world.user(email=EMAIL).stripe_customer_id == customer_id
    assert only(world, MessageKind.STRIPE_CUSTOMER).status == MessageStatus.SENT
    assert "billing_customer_created" in world.audit_kinds()


def test_no_call_when_the_user_already_has_a_customer(world):
    verified(world)
    user = world.user(email=EMAIL)
    user.stripe_customer_id = "cus_made_elsewhere"
    world.store.users[user.id] = user
    deliver(world)
    assert world.billing.customers == {}
    assert only(world, MessageKind.STRIPE_CUSTOMER).status == MessageStatus.SENT


def test_a_customer_made_by_a_killed_worker_is_reused(world):
    user = verified(world)
    # A worker created the customer at Stripe, then died before saving its id.
    world.billing.customers["cus_orphan"] = {
        "email": EMAIL, "phone": None, "name": "", "metadata": {"user_id": str(user.id)},
        "key": f"customer-create-{user.id}"}
    deliver(world)
    assert list(world.billing.customers) == ["cus_orphan"]
    assert world.user(email=EMAIL).stripe_customer_id == "cus_orphan"


def test_a_failing_stripe_call_is_retried_and_still_creates_one(world):
    verified(world)
    world.billing.fail_times = 1
    deliver(world)
    job = only(world, MessageKind.STRIPE_CUSTOMER)
    assert (job.status, job.attempts) == (MessageStatus.PENDING, 1)
    assert world.billing.customers == {}
    world.clock.advance(seconds=10)
    deliver(world)
    assert len(world.billing.customers) == 1
    assert only(world, MessageKind.STRIPE_CUSTOMER).status == MessageStatus.SENT


def test_billing_off_the_job_waits_without_spending_attempts(world):
    world.billing.enabled = False
    verified(world)
    for _ in range(20):
        deliver(world)
        world.clock.advance(hours=1)
    job = only(world, MessageKind.STRIPE_CUSTOMER)
    assert (job.status, job.attempts) == (MessageStatus.PENDING, 0)
    assert job.last_error == "billing is off"
    assert only(world, MessageKind.EMAIL).status == MessageStatus.SENT  # mail unaffected

    world.billing.enabled = True  # billing configured later: the job completes
    world.clock.advance(seconds=BILLING_OFF_RECHECK.total_seconds())
    deliver(world)
    assert only(world, MessageKind.STRIPE_CUSTOMER).status == MessageStatus.SENT
    assert world.user(email=EMAIL).stripe_customer_id is not None


def test_staff_retry_does_not_break_a_live_lease(world):
    register(world)
    now = world.clock.now()
    with world.ports.uow() as uow:  # w1 is sending it right now
        [message] = uow.outbox.claim_due(now, now + timedelta(seconds=60), "w1", 10)
        uow.commit()
    world.services.delivery.retry(message.id)
    assert deliver(world, "w2") == 0  # no second copy while w1 holds it
    world.clock.advance(seconds=61)
    assert deliver(world, "w2") == 1


def test_giving_up_on_a_message_says_so_once_in_the_log(caplog):
    """Each failed try is a warning; the last one must tell the operator that the message
    is now failed (dead) and waits for staff, not just another "failed" line."""
    world = make_world(Policy(delivery_max_attempts=2))
    register(world, email=None, phone=PHONE)
    world.sms.fail_times = 2
    with caplog.at_level("WARNING", logger="webapp.application.delivery"):
        deliver(world)
        world.clock.advance(hours=2)
        assert not [r for r in caplog.records if r.levelname == "ERROR"]
        deliver(world)
    message = only(world, MessageKind.SMS)
    assert message.status == MessageStatus.FAILED
    [dead] = [r for r in caplog.records if r.levelname == "ERROR"]
    line = dead.getMessage()
    assert f"sms #{message.id}" in line and "2 attempts" in line and "/admin/queue" in line
    assert "TimeoutError" in line and PHONE not in line


def test_a_recipient_refused_for_good_is_failed_at_once_not_asked_again(world, caplog):
    """A 550 for the recipient cannot turn into a 250 by asking again (RFC 5321: a 5yz
    reply is not to be repeated): failed on the first try, with what the server said for
    staff; the log names the message and the reason, not the address."""
    register(world)
    world.mailer.refused = {EMAIL}
    with caplog.at_level("WARNING", logger="webapp.application.delivery"):
        assert deliver(world) == 1
    message = only(world, MessageKind.EMAIL)
    assert (message.status, message.attempts, message.locked_by) == (
        MessageStatus.FAILED, 1, None)
    assert message.last_error == (
        f"Undeliverable: the server refused the recipient for good (550): "
        f"5.1.1 <{EMAIL}>: no such user")
    [line] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert f"email #{message.id} refused for good" in line and "(550)" in line
    assert "/admin/queue" in line and EMAIL not in line

    world.clock.advance(hours=3)
    assert deliver(world) == 0 and world.mailer.sent == []  # never tried again by itself

    world.mailer.refused = set()  # the mailbox exists now: staff try it again
    world.services.delivery.retry(message.id)
    assert deliver(world) == 1
    assert only(world, MessageKind.EMAIL).status == MessageStatus.SENT
    assert [m["to"] for m in world.mailer.sent] == [EMAIL]

