"""The Stripe adapter sends the documented parameters (stripe's HTTP client replaced by a
recording one), and the webhook verifier is stripe's own signature scheme."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe

from webapp.domain.billing import InvalidSignature
from webapp.infrastructure.billing import StripeGateway, StripeWebhooks

SECRET = "whsec_test_secret"


class RecordingClient(stripe.HTTPClient):
    """Answers from a table of canned JSON bodies by path, and keeps every request."""

    name = "recording"

    def __init__(self, answers: dict[str, Any]) -> None:
        super().__init__()
        self.answers = answers
        self.requests: list[dict[str, Any]] = []

    def request(self, method, url, headers, post_data=None, **_):  # noqa: ANN001, ANN201
        parts = urlsplit(url)
        params = parse_qs(post_data or parts.query or "", keep_blank_values=True)
        self.requests.append({"method": method, "path": parts.path, "headers": dict(headers or {}),
                              "params": {k: v[0] if len(v) == 1 else v for k, v in params.items()}})
        body, status = self.answers.get(f"{method.upper()} {parts.path}", ({}, 404))
        return json.dumps(body), status, {}

    def close(self) -> None:
        return None


def gateway(answers: dict[str, Any]) -> tuple[StripeGateway, RecordingClient]:
    client = RecordingClient(answers)
    return StripeGateway("sk_test_123", "http://stripe.invalid", http_client=client), client


def test_create_customer_sends_the_idempotency_key_and_our_user_id():
    stripe_gw, client = gateway({"POST /v1/customers": ({"id": "cus_9", "object": "customer"},
                                                        200)})
    customer = stripe_gw.create_customer(user_id=7, email="jane@example.com",
                                         phone="+14155550123", name="Jane Doe",
                                         idempotency_key="customer-create-7")
    assert customer == "cus_9"
    (sent,) = client.requests
    assert sent["headers"]["Idempotency-Key"] == "customer-create-7"
    assert sent["params"] == {"metadata[user_id]": "7", "email": "jane@example.com",
                              "phone": "+14155550123", "name": "Jane Doe"}


def _sessions(*open_sessions: tuple[str, str]) -> dict[str, Any]:
    """Answers for Checkout: the customer's open sessions (id, our key), and a new one."""
    listed = {"object": "list", "url": "/v1/checkout/sessions", "has_more": False,
              "data": [{"id": sid, "object": "checkout.session", "status": "open",
                        "metadata": {"checkout_key": key}} for sid, key in open_sessions]}
    answers: dict[str, Any] = {
        "GET /v1/checkout/sessions": (listed, 200),
        "POST /v1/checkout/sessions": ({"id": "cs_1", "object": "checkout.session",
                                         "url": "https://checkout.stripe.com/c/1"}, 200)}
    for sid, _ in open_sessions:
        answers[f"POST /v1/checkout/sessions/{sid}/expire"] = (
            {"id": sid, "object": "checkout.session", "status": "expired"}, 200)
    return answers


def test_checkout_is_a_subscription_session_for_the_customer():
    stripe_gw, client = gateway(_sessions())
    url = stripe_gw.checkout_url(customer_id="cus_9", price_id="price_pro", user_id=7,
                                 success_url="https://app.example.com/account?checkout=success",
                                 cancel_url="https://app.example.com/account?checkout=cancelled",
                                 idempotency_key="checkout-7-price_pro-1")
    assert url == "https://checkout.stripe.com/c/1"
    listed, sent = client.requests
    assert listed["params"] == {"customer": "cus_9", "status": "open", "limit": "100"}
    params = sent["params"]
    assert params["mode"] == "subscription"
    assert params["customer"] == "cus_9"
    assert params["line_items[0][price]"] == "price_pro"
    assert params["line_items[0][quantity]"] == "1"
    assert params["success_url"] == "https://app.example.com/account?checkout=success"
    assert params["cancel_url"] == "https://app.example.com/account?checkout=cancelled"
    assert params["client_reference_id"] == "7"
    assert params["metadata[user_id]"] == "7"
    assert params["subscription_data[metadata][user_id]"] == "7"
    assert sent["headers"]["Idempotency-Key"] == "checkout-7-price_pro-1"


def test_checkout_expires_the_customers_other_open_sessions_first():
    """Two tabs (or two clicks a minute apart) cannot both end in a subscription; the
    session of the same key (a double click) stays open and comes back."""
    stripe_gw, client = gateway(_sessions(("cs_tab1", "checkout-7-price_pro-1"),
                                          ("cs_same", "checkout-7-price_basic-2")))
    stripe_gw.checkout_url(customer_id="cus_9", price_id="price_basic", user_id=7,
                           success_url="https://app.example.com/account",
                           cancel_url="https://app.example.com/account",
                           idempotency_key="checkout-7-price_basic-2")
    assert [(r["method"], r["path"]) for r in client.requests] == [
        ("get", "/v1/checkout/sessions"),
        ("post", "/v1/checkout/sessions/cs_tab1/expire"),
        ("post", "/v1/checkout/sessions")]
    created = client.requests[-1]["params"]
    assert created["metadata[checkout_key]"] == "checkout-7-price_basic-2"
    assert "subscription_data[metadata][checkout_key]" not in created


def test_live_subscriptions_are_any_of_the_customers_that_has_not_ended():
    def listed(*statuses: str) -> dict[str, Any]:
        return {"GET /v1/subscriptions": ({
            "object": "list", "url": "/v1/subscriptions", "has_more": False,
            "data": [{"id": f"sub_{n}", "object": "subscription", "status": status}
                     for n, status in enumerate(statuses)]}, 200)}

    stripe_gw, client = gateway(listed("canceled", "incomplete_expired"))
    assert stripe_gw.has_live_subscription("cus_9") is False
    assert client.requests[0]["params"] == {"customer": "cus_9", "status": "all",
                                            "limit": "100"}
    for live in ("active", "trialing", "past_due", "incomplete"):
        stripe_gw, _ = gateway(listed("canceled", live))
        assert stripe_gw.has_live_subscription("cus_9") is True, live


def test_portal_session_for_the_customer_returns_to_the_account():
    stripe_gw, client = gateway({"POST /v1/billing_portal/sessions": (
        {"id": "bps_1", "object": "billing_portal.session",
         "url": "https://billing.stripe.com/p/1"}, 200)})
    assert stripe_gw.portal_url(customer_id="cus_9",
                                return_url="https://app.example.com/account").endswith("/p/1")
    assert client.requests[0]["params"] == {"customer": "cus_9",
                                            "return_url": "https://app.example.com/account"}


def test_plans_are_active_recurring_prices_with_their_product():
    price = {"id": "price_pro", "object": "price", "unit_amount": 1500, "currency": "usd",
             "recurring": {"interval": "month", "interval_count": 1},
             "product": {"id": "prod_1", "object": "product", "name": "Pro", "active": True,
                         "metadata": {"plan": "true"}}}
    retired = {**price, "id": "price_old", "product": {**price["product"], "active": False}}
    stripe_gw, client = gateway({"GET /v1/prices": (
        {"object": "list", "data": [price, retired], "has_more": False, "url": "/v1/prices"},
        200)})
    (plan,) = stripe_gw.list_plans()
    assert (plan.price_id, plan.name, plan.amount, plan.interval) == ("price_pro", "Pro", 1500,
                                                                      "month")
    assert plan.product_metadata == {"plan": "true"}
    params = client.requests[0]["params"]
    assert params["active"] == "true" and params["type"] == "recurring"
    assert params["expand[0]"] == "data.product"


def test_find_customer_lists_by_email_and_matches_our_user_id():
    listed = {"object": "list", "has_more": False, "url": "/v1/customers", "data": [
        {"id": "cus_other", "object": "customer", "metadata": {"user_id": "8"}},
        {"id": "cus_mine", "object": "customer", "metadata": {"user_id": "7"}}]}
    stripe_gw, client = gateway({"GET /v1/customers": (listed, 200)})
    assert stripe_gw.find_customer(7, "jane@example.com") == "cus_mine"
    assert client.requests[0]["params"]["email"] == "jane@example.com"


def test_find_customer_without_email_searches_by_metadata():
    stripe_gw, client = gateway({"GET /v1/customers/search": (
        {"object": "search_result", "data": [{"id": "cus_7", "object": "customer",
                                              "metadata": {"user_id": "7"}}],
         "has_more": False, "url": "/v1/customers/search"}, 200)})
    assert stripe_gw.find_customer(7) == "cus_7"
    assert client.requests[0]["params"]["query"] == "metadata['user_id']:'7'"


def test_find_customer_by_phone_skips_an_erased_accounts_customer_of_the_same_id():
    """SQLite gives an erased account's id to the next one: a phone-only account must not
    take over the erased person's customer (their name, phone and cards)."""
    found = {"object": "search_result", "has_more": False, "url": "/v1/customers/search",
             "data": [{"id": "cus_erased", "object": "customer", "phone": "+14155550000",
                       "metadata": {"user_id": "7"}},
                      {"id": "cus_mine", "object": "customer", "phone": "+14155550123",
                       "metadata": {"user_id": "7"}}]}
    stripe_gw, _ = gateway({"GET /v1/customers/search": (found, 200)})
    assert stripe_gw.find_customer(7, None, "+14155550123") == "cus_mine"
    assert stripe_gw.find_customer(7, None, "+14155559999") is None


def signed(payload: str, timestamp: int | None = None, secret: str = SECRET) -> str:
    return stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=timestamp or int(time.time()))


def test_webhook_verifier_accepts_stripes_signature_and_refuses_forged_or_stale():
    hooks = StripeWebhooks(SECRET)
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "ping"})
    assert hooks.verify(payload.encode(), signed(payload))["id"] == "evt_1"
    for header in (signed(payload, secret="whsec_other"), "", "t=1,v1=abc",
                   signed(payload, timestamp=int(time.time()) - 301)):
        with pytest.raises(InvalidSignature):
            hooks.verify(payload.encode(), header)
    with pytest.raises(InvalidSignature):  # the body was changed after signing
        hooks.verify(payload.replace("ping", "pong").encode(), signed(payload))
    assert StripeWebhooks("").configured is False


def test_find_customer_scans_where_search_is_not_offered():
    listed = {"object": "list", "has_more": False, "url": "/v1/customers", "data": [
        {"id": "cus_7", "object": "customer", "metadata": {"user_id": "7"}}]}
    stripe_gw, client = gateway({
        "GET /v1/customers/search": ({"error": {"type": "invalid_request_error",
                                                "message": "Not Found"}}, 404),
        "GET /v1/customers": (listed, 200)})
    assert stripe_gw.find_customer(7) == "cus_7"
    assert stripe_gw.find_customer(8) is None
    assert [r["path"] for r in client.requests].count("/v1/customers/search") == 2


def test_find_customer_by_email_finds_none_in_one_call():
    stripe_gw, client = gateway({"GET /v1/customers": (
        {"object": "list", "has_more": False, "url": "/v1/customers", "data": []}, 200)})
    assert stripe_gw.find_customer(7, "jane@example.com") is None
    assert len(client.requests) == 1
