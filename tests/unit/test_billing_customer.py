"""Exactly one Stripe customer per verified user, whatever goes wrong on the way (fakes)."""

from __future__ import annotations

from datetime import timedelta

from tests.fakes import make_world
from tests.helpers.world import customer_jobs, deliver, verified_id
from webapp.application.delivery import DeliveryService
from webapp.domain.model import MessageStatus
from webapp.infrastructure.billing import DisabledBilling

EMAIL = "jane@example.com"
PASSWORD = "correct horse battery staple"


def test_verification_queues_one_job_and_delivery_makes_one_customer():
    world = make_world()
    user_id = verified_id(world)
    code = world.field_of(world.emails(EMAIL)[-1], "code")
    world.services.verification.verify_email_code(EMAIL, code)  # the double click
    assert len(customer_jobs(world)) == 1
    deliver(world)
    deliver(world, "w2")
    assert len(world.billing.customers) == 1
    (cid, customer), = world.billing.customers.items()
    assert customer["metadata"] == {"user_id": str(user_id)}
    assert customer["key"] == f"customer-create-{user_id}"
    assert customer["email"] == EMAIL and customer["name"] == "Jane Doe"
    assert world.store.users[user_id].stripe_customer_id == cid


def test_stripe_down_verification_succeeds_and_the_customer_comes_later():
    world = make_world()
    world.billing.fail_times = 2
    user_id = verified_id(world)
    assert world.store.users[user_id].is_verified
    deliver(world)
    (job,) = customer_jobs(world)
    assert job.status == MessageStatus.PENDING and job.attempts == 1
    assert world.billing.customers == {}
    world.clock.advance(hours=1)
    deliver(world)
    world.clock.advance(hours=1)
    deliver(world)
    assert len(world.billing.customers) == 1
    assert world.store.users[user_id].stripe_customer_id == "cus_1"


def test_a_worker_killed_after_stripe_answered_leaves_no_second_customer():
    world = make_world()
    world.billing.die_after_create = 1
    user_id = verified_id(world)
    deliver(world)
    assert world.store.users[user_id].stripe_customer_id is None  # the link was never stored
    world.clock.advance(minutes=5)
    deliver(world, "w2")
    assert list(world.billing.customers) == ["cus_1"]
    assert world.store.users[user_id].stripe_customer_id == "cus_1"


def test_billing_off_waits_without_spending_attempts_and_nothing_fails():
    world = make_world()
    off = DisabledBilling()
    world.services.delivery = DeliveryService(world.ports, world.mailer, world.sms, off)
    world.services.billing.gateway = off
    user_id = verified_id(world)
    deliver(world)
    (job,) = customer_jobs(world)
    assert job.status == MessageStatus.PENDING and job.attempts == 0
    assert job.next_attempt_at - world.clock.now() >= timedelta(minutes=59)
    summary = world.services.billing.summary(user_id)
    assert summary.enabled is False and summary.plans == []
    assert world.services.billing.enabled is False
