"""Webhook events: verified, stored by id, processed once, in any order (fakes)."""

from __future__ import annotations

import itertools

import pytest

from tests import stripe_events as se
from tests.fakes import World, make_world
from tests.helpers.world import customer_ready
from webapp.domain.billing import BillingUnavailable, EventFailed, InvalidSignature, from_timestamp
from webapp.domain.errors import ValidationFailed


def send(world: World, data: dict) -> bool:
    return world.services.billing.handle_webhook(se.body(data), "valid")


def ready() -> tuple[World, int, str]:
    world = make_world()
    user_id = customer_ready(world)
    return world, user_id, world.store.users[user_id].stripe_customer_id or ""


def test_a_forged_signature_is_refused_and_nothing_is_stored():
    world, _, customer = ready()
    with pytest.raises(InvalidSignature):
        world.services.billing.handle_webhook(
            se.body(se.subscription("created", "active", se.T0, customer=customer)), "forged")
    assert world.store.billing_events == {} and world.store.subscriptions == {}


def test_without_a_webhook_secret_the_endpoint_is_unavailable():
    world, _, _ = ready()
    world.webhooks.configured = False
    with pytest.raises(BillingUnavailable):
        send(world, se.customer_deleted(se.T0))


def test_checkout_then_subscription_events_show_plan_status_and_renewal():
    world, user_id, customer = ready()
    assert send(world, se.checkout_completed(se.T0 + 1, user_id=user_id, customer=customer))
    assert send(world, se.subscription("created", "active", se.T0, customer=customer))
    view = world.services.billing.subscription(user_id)
    assert (view.plan, view.plan_name, view.status) == ("price_pro", "Pro", "active")
    assert view.renews_at == from_timestamp(se.PERIOD_END)


def test_a_repeated_event_is_acknowledged_and_not_processed_again():
    world, user_id, customer = ready()
    first = se.subscription("updated", "active", se.T0 + 10, customer=customer)
    assert send(world, first) is True
    # a newer cancellation, then Stripe re-sends the first event
    send(world, se.subscription("deleted", "canceled", se.T0 + 20, customer=customer))
    world.store.subscriptions["sub_1"].state_at = from_timestamp(0)  # would accept anything
    assert send(world, first) is False
    assert world.store.subscriptions["sub_1"].status == "canceled"
    assert world.store.billing_events[first["id"]].attempts == 1


SEQUENCE = [
    lambda c, u: se.checkout_completed(se.T0 + 2, user_id=u, customer=c),
    lambda c, u: se.subscription("created", "incomplete", se.T0, customer=c),
    lambda c, u: se.invoice("paid", se.T0 + 2, customer=c),
    lambda c, u: se.subscription("updated", "active", se.T0 + 2, customer=c),
    lambda c, u: se.subscription("updated", "active", se.T0 + 50, customer=c,
                                 cancel_at_period_end=True),
    lambda c, u: se.subscription("deleted", "canceled", se.T0 + 90, customer=c),
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(SEQUENCE))))[::37])
def test_any_delivery_order_ends_in_the_state_of_the_newest_event(order):
    world, user_id, customer = ready()
    for index in order:
        send(world, SEQUENCE[index](customer, user_id))
    view = world.services.billing.subscription(user_id)
    assert view.status == "canceled" and view.plan == "price_pro"
    assert view.renews_at is None


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_events_of_the_same_second_move_forward_not_back(order):
    world, user_id, customer = ready()
    events = [se.subscription("created", "incomplete", se.T0, customer=customer),
              se.subscription("updated", "active", se.T0, customer=customer)]
    for index in order:
        send(world, events[index])
    assert world.services.billing.subscription(user_id).status == "active"


def test_payment_failed_makes_it_past_due_and_a_later_payment_active_again():
    world, user_id, customer = ready()
    send(world, se.subscription("created", "active", se.T0, customer=customer))
    send(world, se.invoice("payment_failed", se.T0 + 100, customer=customer))
    assert world.services.billing.subscription(user_id).status == "past_due"
    later_end = se.PERIOD_END + 30 * 86_400
    send(world, se.invoice("paid", se.T0 + 200, customer=customer, period_end=later_end))
    # and a late, older failure does not undo the payment
    send(world, se.invoice("payment_failed", se.T0 + 150, customer=customer))
    view = world.services.billing.subscription(user_id)
    assert view.status == "active" and view.renews_at == from_timestamp(later_end)


def test_cancel_at_period_end_shows_no_renewal_but_the_end():
    world, user_id, customer = ready()
    send(world, se.subscription("updated", "active", se.T0, customer=customer,
                                cancel_at_period_end=True))
    view = world.services.billing.subscription(user_id)
    assert view.renews_at is None and view.current_period_end == from_timestamp(se.PERIOD_END)


def test_customer_deleted_unlinks_the_customer_and_ends_its_subscriptions():
    world, user_id, customer = ready()
    send(world, se.subscription("created", "active", se.T0, customer=customer))
    send(world, se.customer_deleted(se.T0 + 5, customer=customer))
    assert world.store.users[user_id].stripe_customer_id is None
    assert world.services.billing.subscription(user_id).status == "canceled"
    assert "billing_customer_deleted" in world.audit_kinds()


def test_a_failing_handler_leaves_the_event_for_the_retry():
    world, user_id, customer = ready()
    data = se.subscription("created", "active", se.T0, customer=customer)
    handlers = world.services.billing.handlers
    real = handlers.handle

    def broken(*args, **kwargs):
        raise ConnectionError("database went away")

    handlers.handle = broken
    with pytest.raises(EventFailed):
        send(world, data)
    stored = world.store.billing_events[data["id"]]
    assert stored.processed_at is None and stored.attempts == 1
    assert "database went away" in (stored.last_error or "")
    assert world.store.subscriptions == {}
    handlers.handle = real
    assert send(world, data) is True
    assert world.services.billing.subscription(user_id).status == "active"


def test_an_event_we_do_not_handle_is_stored_and_acknowledged():
    world, _, _ = ready()
    data = se.event("customer.updated", {"id": "cus_1", "object": "customer"}, se.T0)
    assert send(world, data) is True
    assert world.store.billing_events[data["id"]].processed_at is not None


@pytest.mark.parametrize("status", ["paused", "incomplete"])
def test_checkout_refuses_while_a_paused_or_incomplete_subscription_holds(status):
    """The account page offers no Subscribe button for these (the subscription still
    counts: a paused one resumes, an incomplete one may still be paid), so the API must
    not open a second subscription beside it either; once it has ended, it may."""
    world, user_id, customer = ready()
    send(world, se.subscription("created", status, se.T0, customer=customer))
    assert world.services.billing.summary(user_id).subscribed
    with pytest.raises(ValidationFailed):
        world.services.billing.checkout(user_id, "price_basic")
    assert world.billing.sessions == []
    send(world, se.subscription("deleted", "canceled", se.T0 + 1, customer=customer))
    assert world.services.billing.checkout(user_id, "price_basic")


def test_events_about_an_erased_customer_keep_nothing_of_the_person():
    world, user_id, customer = ready()
    world.services.account_data.request_deletion(user_id, world.clock.now())
    world.clock.advance(days=7, seconds=1)
    for _ in range(2):  # the erasure, then the customer's deletion at Stripe
        world.services.delivery.deliver_due("w")
    assert world.billing.deleted == [customer]
    # What Stripe sends after our deletion: the customer, with its addresses, and the
    # subscription it cancelled.
    gone = se.customer_deleted(se.T0 + 60, customer=customer)
    gone["data"]["object"].update(email="jane@example.com", name="Jane Doe",
                                  phone="+14155550123")
    ended = se.subscription("deleted", "canceled", se.T0 + 60, customer=customer)
    assert send(world, gone) and send(world, ended)
    for event in (gone, ended):
        assert world.store.billing_events[event["id"]].payload == {"redacted": True}
    assert world.store.subscriptions  # what happened stays, with no one's data


def test_events_about_a_users_customer_are_kept_whole():
    world, _, customer = ready()
    event = se.subscription("created", "active", se.T0, customer=customer)
    send(world, event)
    assert world.store.billing_events[event["id"]].payload == event


def test_a_users_customer_deleted_at_stripe_keeps_its_event():
    world, _, customer = ready()
    event = se.customer_deleted(se.T0, customer=customer)
    send(world, event)
    assert world.store.billing_events[event["id"]].payload == event


@pytest.mark.parametrize("make", [
    lambda uid: se.subscription("created", "active", se.T0, customer="cus_gone", user_id=uid),
    lambda uid: se.checkout_completed(se.T0, user_id=uid, customer="cus_gone"),
])
def test_our_user_id_in_an_events_metadata_does_not_give_someone_the_subscription(make):
    """The metadata names the account that subscribed; once it is erased, SQLite gives its
    id to the next account. Only the customer proves whose subscription it is."""
    world, user_id, _ = ready()
    send(world, make(user_id))  # a subscription of a customer that is not this account's
    assert world.services.billing.subscription(user_id).status is None
    assert all(s.user_id is None for s in world.store.subscriptions.values())
