"""The billing endpoints through the test client: Checkout, portal, subscription, plans."""

from __future__ import annotations

from tests.integration.billing.helpers import (
    deliver,
    user_id,
)


def bearer(tokens) -> dict[str, str]:  # noqa: ANN001
    return {"Authorization": f"Bearer {tokens['access']}"}


def test_checkout_returns_the_checkout_url_built_on_app_base_url(app, client, tokens,
                                                                 fake_billing):
    deliver(app)
    response = client.post("/api/billing/checkout/", json={"plan": "price_pro"},
                           headers={**bearer(tokens), "Host": "evil.example"})
    assert response.status_code == 200, response.json
    assert response.json == {"url": "https://checkout.stripe.test/c/cs_1"}
    (session,) = fake_billing.sessions
    assert session["success_url"] == "http://testserver/account?checkout=success"
    assert session["cancel_url"] == "http://testserver/account?checkout=cancelled"
    assert session["customer_id"] == next(iter(fake_billing.customers))
    assert session["user_id"] == user_id(app)


def test_checkout_refuses_bad_plans_and_anonymous_callers(app, client, tokens, fake_billing):
    deliver(app)
    assert client.post("/api/billing/checkout/", json={"plan": "price_pro"}).status_code == 401
    for body in ({"plan": "price_other"}, {"plan": "nope"}, {}, {"plan": 3}):
        response = client.post("/api/billing/checkout/", json=body, headers=bearer(tokens))
        assert response.status_code == 400, body
        assert "plan" in response.json["errors"]
    assert fake_billing.sessions == []


def test_checkout_before_the_customer_exists_is_503_and_hurries_it(app, client, tokens):
    response = client.post("/api/billing/checkout/", json={"plan": "price_basic"},
                           headers=bearer(tokens))
    assert response.status_code == 503
    assert response.json["code"] == "customer_pending"
    deliver(app)
    assert client.post("/api/billing/checkout/", json={"plan": "price_basic"},
                       headers=bearer(tokens)).status_code == 200


def test_portal(app, client, tokens, fake_billing):
    deliver(app)
    assert client.post("/api/billing/portal/").status_code == 401
    response = client.post("/api/billing/portal/", headers=bearer(tokens))
    assert response.status_code == 200
    assert response.json["url"].startswith("https://billing.stripe.test/")
    assert fake_billing.portals[0]["return_url"] == "http://testserver/account"


def test_subscription_is_nulls_before_any_event(app, client, tokens):
    assert client.get("/api/billing/subscription/").status_code == 401
    response = client.get("/api/billing/subscription/", headers=bearer(tokens))
    assert response.status_code == 200
    assert response.json == {"enabled": True, "plan": None, "plan_name": None, "status": None,
                             "renews_at": None, "current_period_end": None,
                             "cancel_at_period_end": False}


def test_plans_list_the_offered_prices(client):
    response = client.get("/api/billing/plans/")
    assert response.status_code == 200
    assert [p["id"] for p in response.json["plans"]] == ["price_basic", "price_pro"]


def test_openapi_documents_the_billing_endpoints(client):
    paths = client.get("/api/openapi.json").json["paths"]
    for path in ("/api/billing/checkout/", "/api/billing/portal/", "/api/billing/subscription/",
                 "/api/billing/webhook/", "/api/billing/plans/"):
        assert path in paths
    checkout = paths["/api/billing/checkout/"]["post"]
    assert {"200", "400", "401", "503"} <= set(checkout["responses"])
    assert checkout["security"] == [{"bearer": []}]


def test_stripe_down_at_checkout_and_portal_is_503(app, client, tokens, fake_billing):
    deliver(app)

    def down(**_: object) -> str:
        raise ConnectionError("stripe unreachable")

    fake_billing.checkout_url = down
    fake_billing.portal_url = down
    for path, body in (("/api/billing/checkout/", {"plan": "price_pro"}),
                       ("/api/billing/portal/", None)):
        response = client.post(path, json=body, headers=bearer(tokens))
        assert response.status_code == 503, (path, response.json)
        assert response.json["code"] == "stripe_unavailable"
