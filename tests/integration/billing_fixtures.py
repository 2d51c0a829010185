"""An app with billing on: the real webhook verifier, Stripe faked at the port."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
from flask import Flask, render_template
from flask.testing import FlaskClient
from flask_login.utils import _create_identifier

from tests.conftest import make_app
from tests.fakes import FakeBilling
from webapp.application.tokens import session_version
from webapp.domain.model import User
from webapp.extensions import db

WEBHOOK_SECRET = "whsec_integration_secret"


@pytest.fixture
def fake_billing() -> FakeBilling:
    return FakeBilling()


@pytest.fixture
def app(tmp_path: Path, fake_billing: FakeBilling) -> Iterator[Flask]:
    app = make_app(tmp_path, STRIPE_SECRET_KEY="sk_test_integration",
                   STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, STRIPE_API_BASE="http://127.0.0.1:9")
    services = app.extensions["services"]
    services.billing.gateway = fake_billing  # Checkout and the portal are not in any emulator
    services.delivery.billing = fake_billing
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def deliver(app: Flask) -> None:
    with app.app_context():
        app.extensions["services"].delivery.deliver_due("test-worker")


def domain_user(app: Flask, email: str = "jane@example.com") -> User:
    with app.app_context(), app.extensions["services"].kit.uow() as uow:
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
    user = domain_user(app, email)
    with app.test_request_context(environ_base=client.environ_base):
        ident = _create_identifier()
    with client.session_transaction() as session:
        session["_user_id"] = f"{user.id}:{session_version(user)}"
        session["_fresh"] = True
        session["_id"] = ident


def post_event(client: FlaskClient, data: dict[str, Any], *, secret: str = WEBHOOK_SECRET,
               timestamp: int | None = None) -> Any:
    payload = json.dumps(data)
    header = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=timestamp or int(time.time()))
    return client.post("/api/billing/webhook/", data=payload,
                       headers={"Stripe-Signature": header, "Content-Type": "application/json"})
