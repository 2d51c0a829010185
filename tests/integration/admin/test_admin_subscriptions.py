"""The staff pages read billing's subscriptions: filter, list column, user page, funnel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import BILLING_ON
from tests.helpers.app import listed, log_in, make_user, ports
from webapp.domain.billing import Subscription


@pytest.fixture
def app(app_factory):  # noqa: ANN001, ANN201
    """Billing on: a verified account gets its Stripe customer job (off, it gets none)."""
    return app_factory(**BILLING_ON)


def subscribe(app, user, status, stripe_id, by_customer=False):
    with app.app_context(), ports(app).uow() as uow:
        uow.subscriptions.add(Subscription(
            stripe_id=stripe_id, customer_id=user.stripe_customer_id or "cus_x",
            status=status, state_at=datetime.now(UTC),
            user_id=None if by_customer else user.id))
        uow.commit()


def test_subscription_filter_column_user_page_and_funnel(app, client):
    boss = make_user(app, "boss@example.com", staff=True)
    paying = make_user(app, "paying@example.com", customer="cus_pay")
    late = make_user(app, "late@example.com", customer="cus_late")
    gone = make_user(app, "gone@example.com", customer="cus_gone")
    make_user(app, "free@example.com")
    subscribe(app, paying, "active", "sub_1")
    subscribe(app, late, "past_due", "sub_2", by_customer=True)  # linked by customer only
    subscribe(app, gone, "canceled", "sub_3")
    log_in(client, boss)

    assert sorted(listed(client, "?subscription=live")) == ["late@example.com",
                                                          "paying@example.com"]
    assert listed(client, "?subscription=past_due") == ["late@example.com"]
    assert sorted(listed(client, "?subscription=none")) == [
        "boss@example.com", "free@example.com", "gone@example.com"]
    assert listed(client, "?subscription=bogus") == listed(client)  # ignored
    assert "past due" in client.get("/admin/users").text

    page = client.get(f"/admin/users/{late.id}").text
    assert "sub_2" in page and "past due" in page

    dashboard = client.get("/admin/").text
    assert "<strong>2</strong> subscribed" in dashboard
    assert "Subscribed: <strong>2</strong>" in dashboard and "bar-subscribed" in dashboard
