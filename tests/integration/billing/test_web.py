"""The account page's billing panel and its forms: off to Checkout and the portal."""

from __future__ import annotations

from tests.integration.billing.helpers import deliver, panel, sign_in


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
