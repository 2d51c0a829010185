"""An app with billing on: the real webhook verifier, Stripe faked at the port
(Checkout and the billing portal are in no emulator)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import make_app
from tests.fakes import FakeBilling
from tests.integration.billing.helpers import WEBHOOK_SECRET
from webapp.extensions import db


@pytest.fixture
def fake_billing() -> FakeBilling:
    return FakeBilling()


@pytest.fixture
def app(tmp_path: Path, fake_billing: FakeBilling) -> Iterator[Flask]:
    app = make_app(tmp_path, STRIPE_SECRET_KEY="sk_test_integration",
                   STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, STRIPE_API_BASE="http://127.0.0.1:9")
    services = app.extensions["services"]
    services.billing.gateway = fake_billing
    services.delivery.billing = fake_billing
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
