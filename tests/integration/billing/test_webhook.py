"""POST /api/billing/webhook/ signed with Stripe's own scheme: forged, stale, duplicate,
out of order, failing; the account panel and GET /api/billing/subscription/ follow."""

from __future__ import annotations

import json
import time

import stripe

from tests import stripe_events as se
from tests.integration.billing.helpers import (
    deliver,
    panel,
    post_event,
    user_id,
)
from webapp.extensions import db
from webapp.infrastructure.orm import BillingEventRow


def customer_of(app) -> str:  # noqa: ANN001
    deliver(app)
    with app.app_context():
        app.extensions["services"]
        with app.extensions["ports"].uow() as uow:
            return uow.users.get(user_id(app)).stripe_customer_id


def stored(app, event_id: str) -> BillingEventRow | None:  # noqa: ANN001
    with app.app_context():
        return db.session.get(BillingEventRow, event_id)


def test_a_signed_event_is_stored_and_acknowledged(app, client, verified_user):
    data = se.subscription("created", "active", se.T0, customer=customer_of(app))
    response = post_event(client, data)
    assert response.status_code == 200
    assert response.json == {"received": True, "duplicate": False}
    row = stored(app, data["id"])
    assert row.processed_at is not None and row.type == "customer.subscription.created"


def test_forged_stale_and_unsigned_events_are_400_and_not_stored(app, client, verified_user):
    data = se.subscription("created", "active", se.T0, customer=customer_of(app))
    assert post_event(client, data, secret="whsec_someone_else").status_code == 400
    assert post_event(client, data, timestamp=int(time.time()) - 301).status_code == 400
    unsigned = client.post("/api/billing/webhook/", data=json.dumps(data),
                           content_type="application/json")
    assert unsigned.status_code == 400
    assert unsigned.json["code"] == "invalid_signature"
    assert stored(app, data["id"]) is None


def test_a_body_changed_after_signing_is_refused(app, client):
    payload = json.dumps(se.customer_deleted(se.T0))
    header = stripe.WebhookSignature.generate_signature_header(
        payload, "whsec_integration_secret", timestamp=int(time.time()))
    response = client.post("/api/billing/webhook/", data=payload.replace("cus_1", "cus_2"),
                           headers={"Stripe-Signature": header})
    assert response.status_code == 400


def test_a_repeated_event_is_acknowledged_and_not_processed_again(app, client, tokens):
    customer = customer_of(app)
    first = se.subscription("updated", "active", se.T0 + 10, customer=customer)
    assert post_event(client, first).json["duplicate"] is False
    assert post_event(client, se.subscription("deleted", "canceled", se.T0 + 20,
                                              customer=customer)).status_code == 200
    again = post_event(client, first)
    assert again.status_code == 200 and again.json["duplicate"] is True
    assert stored(app, first["id"]).attempts == 1
    status = client.get("/api/billing/subscription/",
                        headers={"Authorization": f"Bearer {tokens['access']}"}).json["status"]
    assert status == "canceled"


def test_out_of_order_events_leave_the_newest_state_on_the_api_and_the_panel(app, client,
                                                                             tokens):
    customer, uid = customer_of(app), user_id(app)
    renewal = se.PERIOD_END + 30 * 86_400
    sequence = [  # as Stripe made them...
        se.checkout_completed(se.T0 + 1, user_id=uid, customer=customer),
        se.subscription("created", "incomplete", se.T0, customer=customer),
        se.subscription("updated", "active", se.T0 + 1, customer=customer),
        se.invoice("paid", se.T0 + 1, customer=customer),
        se.invoice("payment_failed", se.T0 + 100, customer=customer),
        se.subscription("updated", "past_due", se.T0 + 100, customer=customer),
        se.invoice("paid", se.T0 + 200, customer=customer, period_end=renewal),
        se.subscription("updated", "active", se.T0 + 200, customer=customer,
                        period_end=renewal),
    ]
    for index in (7, 4, 0, 3, 6, 1, 5, 2):  # ...and as they arrived
        assert post_event(client, sequence[index]).status_code == 200
    body = client.get("/api/billing/subscription/",
                      headers={"Authorization": f"Bearer {tokens['access']}"}).json
    assert body["status"] == "active" and body["plan"] == "price_pro"
    assert body["plan_name"] == "Pro"
    assert body["renews_at"].startswith("2026-03-02")
    html = panel(app)
    assert "Pro" in html and "active" in html and "2026-03-02" in html
    assert "Manage billing" in html and "Subscribe" not in html


def test_a_failing_handler_answers_500_and_the_retry_processes_it(app, client, verified_user):
    data = se.subscription("created", "active", se.T0, customer=customer_of(app))
    handlers = app.extensions["services"].billing.handlers
    real = handlers.handle

    def broken(*args, **kwargs):
        raise ConnectionError("lost the database")

    handlers.handle = broken
    failed = post_event(client, data)
    assert failed.status_code == 500 and failed.json["code"] == "event_failed"
    row = stored(app, data["id"])
    assert row.processed_at is None and row.attempts == 1 and "lost" in row.last_error
    handlers.handle = real
    retried = post_event(client, data)
    assert retried.status_code == 200 and retried.json["duplicate"] is False


def test_a_large_event_is_accepted_up_to_512_kib(app, client, verified_user):
    data = se.subscription("created", "active", se.T0, customer=customer_of(app))
    data["data"]["object"]["metadata"]["note"] = "x" * (100 * 1024)  # above the API's 64 KiB
    assert post_event(client, data).status_code == 200
    data = se.customer_deleted(se.T0)
    data["padding"] = "x" * (600 * 1024)
    assert post_event(client, data).status_code == 413


def test_customer_deleted_unlinks_the_user(app, client, verified_user):
    customer = customer_of(app)
    assert post_event(client, se.customer_deleted(se.T0, customer=customer)).status_code == 200
    with app.app_context(), app.extensions["ports"].uow() as uow:
        assert uow.users.get(user_id(app)).stripe_customer_id is None


def test_an_event_about_a_customer_no_one_has_is_stored_without_its_body(app, client,
                                                                        verified_user):
    customer_of(app)
    data = se.customer_deleted(se.T0, customer="cus_erased")  # an erased account's
    data["data"]["object"]["email"] = "gone@example.com"
    assert post_event(client, data).status_code == 200
    row = stored(app, data["id"])
    assert row is not None and row.processed_at is not None
    assert row.payload == {"redacted": True}
