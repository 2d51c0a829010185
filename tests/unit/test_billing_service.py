"""Plans, Checkout, the portal and the account's summary, at the port (fakes)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes import World, make_world
from tests.helpers.world import EMAIL, customer_jobs, customer_ready, deliver, verified_id
from webapp.application.billing import BillingService, BillingSettings
from webapp.application.policy import Policy
from webapp.domain.billing import BillingUnavailable
from webapp.domain.errors import Unverified, ValidationFailed
from webapp.domain.model import MessageStatus


def with_settings(world: World, settings: BillingSettings) -> BillingService:
    service = BillingService(world.ports, world.billing, world.webhooks, settings)
    world.services.billing = service
    return service


def test_plans_are_products_marked_plan_by_default():
    world = make_world()
    assert [p.price_id for p in world.services.billing.plans()] == ["price_basic", "price_pro"]


def test_plans_can_be_a_configured_list_of_prices_in_its_order():
    world = make_world()
    service = with_settings(world, BillingSettings(prices=("price_other", "price_pro", "gone")))
    assert [p.price_id for p in service.plans()] == ["price_other", "price_pro"]


def test_plans_are_cached_for_the_ttl_by_the_clock():
    world = make_world()
    service = with_settings(world, BillingSettings(plans_ttl=timedelta(minutes=5)))
    service.plans()
    world.clock.advance(minutes=4)
    service.plans()
    assert world.billing.plan_calls == 1
    world.clock.advance(minutes=2)
    service.plans()
    assert world.billing.plan_calls == 2


def test_stripe_down_keeps_the_cached_plans_and_says_so_when_there_are_none():
    world = make_world()
    world.billing.fail_times = 1
    with pytest.raises(BillingUnavailable):
        world.services.billing.plans()
    assert len(world.services.billing.plans()) == 2
    world.clock.advance(hours=1)
    world.billing.fail_times = 1
    assert len(world.services.billing.plans()) == 2


def test_checkout_is_subscription_mode_for_the_users_customer_with_our_own_urls():
    world = make_world(Policy(base_url="https://app.example.com"))
    user_id = customer_ready(world)
    url = world.services.billing.checkout(user_id, "price_pro")
    assert url.startswith("https://checkout.stripe.test/")
    (session,) = world.billing.sessions
    assert session["customer_id"] == world.store.users[user_id].stripe_customer_id
    assert session["price_id"] == "price_pro" and session["user_id"] == user_id
    assert session["success_url"] == "https://app.example.com/account?checkout=success"
    assert session["cancel_url"] == "https://app.example.com/account?checkout=cancelled"
    assert session["idempotency_key"].startswith(f"checkout-{user_id}-price_pro-")


def test_checkout_refuses_a_plan_not_on_offer():
    world = make_world()
    user_id = customer_ready(world)
    for plan in ("price_other", "price_nope", ""):
        with pytest.raises(ValidationFailed) as caught:
            world.services.billing.checkout(user_id, plan)
        assert "plan" in caught.value.errors
    assert world.billing.sessions == []


def test_checkout_before_the_customer_exists_hurries_it_and_asks_to_retry():
    world = make_world()
    world.billing.fail_times = 1
    user_id = verified_id(world)
    deliver(world)  # fails: the job now waits for its backoff
    (job,) = customer_jobs(world)
    assert job.next_attempt_at > world.clock.now()
    with pytest.raises(BillingUnavailable) as caught:
        world.services.billing.checkout(user_id, "price_basic")
    assert caught.value.code == "customer_pending"
    (job,) = customer_jobs(world)
    assert job.next_attempt_at <= world.clock.now()
    deliver(world)
    assert world.services.billing.checkout(user_id, "price_basic")


def test_checkout_after_the_customer_was_deleted_queues_a_new_one():
    world = make_world()
    user_id = customer_ready(world)
    world.store.users[user_id].stripe_customer_id = None
    with pytest.raises(BillingUnavailable):
        world.services.billing.checkout(user_id, "price_basic")
    pending = [m for m in customer_jobs(world) if m.status == MessageStatus.PENDING]
    assert len(pending) == 1
    world.billing.customers.clear()
    deliver(world)
    assert world.store.users[user_id].stripe_customer_id


def test_checkout_needs_a_verified_user_and_billing_on():
    world = make_world()
    world.services.accounts.register(email=EMAIL, phone=None, password="correct horse battery")
    user = world.user(EMAIL)
    with pytest.raises(Unverified):
        world.services.billing.checkout(user.id or 0, "price_basic")
    world.billing.enabled = False
    with pytest.raises(BillingUnavailable) as caught:
        world.services.billing.checkout(user.id or 0, "price_basic")
    assert caught.value.code == "billing_off"
    with pytest.raises(BillingUnavailable):
        world.services.billing.portal(user.id or 0)


def test_portal_returns_to_the_account_page():
    world = make_world(Policy(base_url="https://app.example.com"))
    user_id = customer_ready(world)
    assert world.services.billing.portal(user_id).startswith("https://billing.stripe.test/")
    assert world.billing.portals == [{
        "customer_id": world.store.users[user_id].stripe_customer_id,
        "return_url": "https://app.example.com/account"}]


def test_summary_without_a_subscription_offers_the_plans():
    world = make_world()
    user_id = customer_ready(world)
    summary = world.services.billing.summary(user_id)
    assert summary.enabled and summary.has_customer and not summary.subscribed
    assert summary.subscription.status is None and summary.subscription.renews_at is None
    assert [p.name for p in summary.plans] == ["Basic", "Pro"]


def test_summary_survives_stripe_being_down():
    world = make_world()
    user_id = customer_ready(world)
    world.billing.fail_times = 1
    summary = world.services.billing.summary(user_id)
    assert summary.enabled and summary.plans == []


def test_stripe_down_at_checkout_or_portal_is_billing_unavailable_not_a_crash(caplog):
    """The plans come from the cache, then Stripe fails to open the session: the user is
    told to try later (503 on the API, a message on the page), and the log has no secret."""
    world = make_world()
    user_id = customer_ready(world)
    world.services.billing.plans()  # cached

    def down(**_: object) -> str:
        raise ConnectionError("stripe unreachable with sk_test_secret")

    world.billing.checkout_url = down
    world.billing.portal_url = down
    for call in (lambda: world.services.billing.checkout(user_id, "price_pro"),
                 lambda: world.services.billing.portal(user_id)):
        with pytest.raises(BillingUnavailable) as caught:
            call()
        assert caught.value.code == "stripe_unavailable"
    assert "ConnectionError" in caplog.text and "sk_test_secret" not in caplog.text


def test_back_from_a_paid_checkout_before_its_webhook_a_second_checkout_is_refused():
    """The account page still offers the plans until Stripe's webhook arrives; Stripe
    itself already holds the subscription, and a second Checkout would charge twice."""
    world = make_world()
    user_id = customer_ready(world)
    world.billing.subscribed.add(world.store.users[user_id].stripe_customer_id)
    with pytest.raises(ValidationFailed) as refused:
        world.services.billing.checkout(user_id, "price_basic")
    assert "already have a subscription" in refused.value.errors["plan"][0]
    assert world.billing.sessions == []


def test_stripe_down_when_asked_for_live_subscriptions_is_try_again_later():
    world = make_world()
    user_id = customer_ready(world)
    world.services.billing.plans()  # cached
    world.billing.fail_times = 1
    with pytest.raises(BillingUnavailable) as caught:
        world.services.billing.checkout(user_id, "price_pro")
    assert caught.value.code == "stripe_unavailable" and world.billing.sessions == []
