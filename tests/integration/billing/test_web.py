"""The account page's billing panel and its forms: off to Checkout and the portal."""

from __future__ import annotations

import pytest

from tests import stripe_events as se
from tests.integration.billing.helpers import deliver, panel, post_event, sign_in


def test_subscribe_and_manage_from_the_account_panel(app, client, verified_user, fake_billing):
    deliver(app)
    html = panel(app)
    assert html.count('name="plan"') == 2 and "Manage billing" in html
    sign_in(app, client)
    app.config["WTF_CSRF_ENABLED"] = False
    response = client.post("/billing/checkout", data={"plan": "price_basic"})
    assert response.status_code == 303
    assert response.headers["Location"] == "https://checkout.stripe.test/c/cs_1"
    assert fake_billing.sessions[0]["price_id"] == "price_basic"
    portal = client.post("/billing/portal")
    assert portal.status_code == 303 and portal.headers["Location"].startswith(
        "https://billing.stripe.test/")
    refused = client.post("/billing/checkout", data={"plan": "price_other"})
    assert refused.status_code == 303 and refused.headers["Location"] == "/account"


def test_the_subscribe_form_needs_csrf_and_a_session(app, client, verified_user, fake_billing):
    deliver(app)
    sign_in(app, client)
    assert client.post("/billing/checkout", data={"plan": "price_basic"}).status_code == 400
    assert fake_billing.sessions == []


def test_the_account_page_shows_the_subscription_the_webhooks_left(app, client, verified_user):
    """Active once the web pages' /account view (which includes billing/_panel.html) is merged."""
    if not any(rule.rule == "/account" for rule in app.url_map.iter_rules()):
        pytest.skip("the /account page is not part of this build yet")
    deliver(app)
    with app.app_context(), app.extensions["ports"].uow() as uow:
        customer = uow.users.get_by_email("jane@example.com").stripe_customer_id
    for data in (se.subscription("updated", "active", se.T0 + 5, customer=customer),
                 se.subscription("created", "incomplete", se.T0, customer=customer)):
        assert post_event(client, data).status_code == 200
    sign_in(app, client)
    page = client.get("/account")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Pro" in html and "active" in html and "2026-01-31" in html
    assert "Manage billing" in html


def test_anonymous_subscribers_are_sent_to_log_in(app, client, fake_billing):
    """Active once the web pages (and their login view) are merged."""
    if "web.login" not in app.view_functions:
        pytest.skip("the login page is not part of this build yet")
    app.config["WTF_CSRF_ENABLED"] = False
    response = client.post("/billing/checkout", data={"plan": "price_basic"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert fake_billing.sessions == []


def test_stripe_down_the_panel_says_so_rather_than_that_there_are_no_plans(
        app, verified_user, fake_billing):
    deliver(app)
    fake_billing.fail_times = 1  # the plans cannot be listed, and none are cached
    html = panel(app)
    assert "No plans are on offer" not in html
    assert "Plans cannot be loaded right now. Try again later." in html
    assert "Manage billing" in html
    fake_billing.plans = []  # Stripe back, and really no plans
    assert "No plans are on offer right now." in panel(app)
