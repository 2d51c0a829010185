"""STRIPE_SECRET_KEY unset: billing is off, says so, and nothing else fails."""

from __future__ import annotations

from tests.integration.billing.helpers import deliver, panel


def test_billing_off_answers_503_and_nulls_and_verification_still_works(app, client, tokens,
                                                                         outbox):
    headers = {"Authorization": f"Bearer {tokens['access']}"}
    deliver(app)
    (job,) = outbox.all("stripe_customer")
    assert job.status == "pending" and job.attempts == 0 and job.last_error == "billing is off"
    for path in ("/api/billing/checkout/", "/api/billing/portal/"):
        response = client.post(path, json={"plan": "price_pro"}, headers=headers)
        assert response.status_code == 503
        assert response.json["code"] == "billing_off"
    subscription = client.get("/api/billing/subscription/", headers=headers)
    assert subscription.status_code == 200
    assert subscription.json["enabled"] is False and subscription.json["status"] is None
    assert client.get("/api/billing/plans/").json == {"enabled": False, "plans": []}


def test_the_webhook_is_503_without_a_secret(client):
    response = client.post("/api/billing/webhook/", data=b"{}",
                           headers={"Stripe-Signature": "t=1,v1=x"})
    assert response.status_code == 503


def test_the_panel_says_billing_is_off(app, verified_user):
    html = panel(app)
    assert "Billing is off" in html and "Subscribe" not in html
