"""STRIPE_SECRET_KEY unset: billing is off, says so, does no billing work, and nothing else
fails; ``flask billing backfill`` makes the missing customers once it is turned on."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conftest import BILLING_ON, make_app
from tests.fakes import FakeBilling
from tests.helpers.app import log_in, make_user, reload
from tests.integration.billing.helpers import deliver, panel
from webapp.extensions import db
from webapp.infrastructure.orm import OutboxRow


def test_billing_off_answers_503_and_nulls_and_verification_still_works(app, client, tokens,
                                                                         outbox):
    headers = {"Authorization": f"Bearer {tokens['access']}"}
    deliver(app)
    assert outbox.all("stripe_customer") == []  # verified, and no Stripe job queued
    for path in ("/api/billing/checkout/", "/api/billing/portal/"):
        response = client.post(path, json={"plan": "price_pro"}, headers=headers)
        assert response.status_code == 503
        assert response.json["code"] == "billing_off"
    subscription = client.get("/api/billing/subscription/", headers=headers)
    assert subscription.status_code == 200
    assert subscription.json["enabled"] is False and subscription.json["status"] is None
    assert client.get("/api/billing/plans/").json == {"enabled": False, "plans": []}


def test_staff_pages_neither_count_nor_list_nor_offer_stripe_jobs(app, client):
    boss = make_user(app, "boss@example.com", staff=True)
    jane = make_user(app, "jane@example.com")
    with app.app_context():  # a job left from when billing was on, before it was turned off
        db.session.add(OutboxRow(kind="stripe_customer", status="pending", user_id=jane.id,
                                 payload={"user_id": jane.id}, attempts=0,
                                 idempotency_key="customer-create-x",
                                 created_at=datetime.now(UTC), next_attempt_at=datetime.now(UTC)))
        db.session.commit()
    log_in(client, boss)
    dashboard = client.get("/admin/").text
    assert "<strong>0</strong> messages waiting" in dashboard
    assert "Stripe customers</a>" not in dashboard and "Stripe customer:" not in dashboard
    queue = client.get("/admin/queue").text
    assert "Nothing here." in queue and "Stripe customer" not in queue
    page = client.get(f"/admin/users/{jane.id}").text
    assert "Retry Stripe customer" not in page and "billing is off" in page
    refused = client.get(f"/admin/users/{jane.id}/retry_stripe")  # asked for anyway
    assert refused.status_code == 200
    token = client.get(f"/admin/users/{jane.id}/retry_stripe").text.split(
        'name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post(f"/admin/users/{jane.id}/retry_stripe", data={"csrf_token": token})
    assert "Billing is off" in client.get(f"/admin/users/{jane.id}").text


def test_backfill_makes_the_customers_missing_from_while_billing_was_off(app, tmp_path,
                                                                        verified_user, outbox):
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["billing", "backfill"])
    assert refused.exit_code != 0 and "not set up" in refused.output
    unverified = make_user(app, "later@example.com", verified=False)
    assert outbox.all("stripe_customer") == []

    on = make_app(tmp_path, reset=False, **BILLING_ON)  # the site restarted with a key
    stripe = FakeBilling()
    on.extensions["services"].delivery.billing = stripe
    result = on.test_cli_runner().invoke(args=["billing", "backfill"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "Queued a Stripe customer for 1 verified account(s); 0 still without one.")
    (customer,) = stripe.customers.values()
    assert customer["email"] == "jane@example.com"
    with on.app_context():
        assert reload(on, unverified.id).stripe_customer_id is None
    again = on.test_cli_runner().invoke(args=["billing", "backfill"])
    assert "for 0 verified account(s)" in again.output and len(stripe.customers) == 1
    with on.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_webhook_is_503_without_a_secret(client):
    response = client.post("/api/billing/webhook/", data=b"{}",
                           headers={"Stripe-Signature": "t=1,v1=x"})
    assert response.status_code == 503


def test_the_panel_says_billing_is_off(app, verified_user):
    html = panel(app)
    assert "Billing is off" in html and "Subscribe" not in html
