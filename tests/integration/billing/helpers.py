"""Helpers of the billing integration tests: delivery, users, the panel, signed events."""

from __future__ import annotations

import json
import time
from typing import Any

import stripe
from flask import Flask, render_template
from flask.testing import FlaskClient

from tests.conftest import log_in_browser
from webapp.domain.model import User

WEBHOOK_SECRET = "whsec_integration_secret"


def deliver(app: Flask) -> None:
    with app.app_context():
        app.extensions["services"].delivery.deliver_due("test-worker")


def domain_user(app: Flask, email: str = "jane@example.com") -> User:
    with app.app_context(), app.extensions["ports"].uow() as uow:
        user = uow.users.get_by_email(email)
    assert user is not None
    return user


def user_id(app: Flask, email: str = "jane@example.com") -> int:
    return domain_user(app, email).id or 0


def panel(app: Flask, email: str = "jane@example.com") -> str:
    """The account page's billing panel for the user, as the account view renders it."""
    user = domain_user(app, email)
    with app.test_request_context():
        return render_template("billing/_panel.html",
                               billing=app.extensions["billing.account_context"](user))


def sign_in(app: Flask, client: FlaskClient, email: str = "jane@example.com") -> None:
    """A Flask-Login browser session for the user, as the login page would leave it."""
    log_in_browser(client, domain_user(app, email))


def post_event(client: FlaskClient, data: dict[str, Any], *, secret: str = WEBHOOK_SECRET,
               timestamp: int | None = None) -> Any:
    payload = json.dumps(data)
    header = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=timestamp or int(time.time()))
    return client.post("/api/billing/webhook/", data=payload,
                       headers={"Stripe-Signature": header, "Content-Type": "application/json"})
