"""Real concurrency on PostgreSQL: the database, not an application check, keeps one
account per address and one Stripe customer per user.

Threads released together by a barrier race through the real service layer, each
with its own connection, the way several gunicorn workers would.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask

from tests.conftest import BILLING_ON, PASSWORD
from tests.fakes import FakeBilling
from tests.helpers.app import RACERS, race
from webapp.application.interfaces import UniqueConflict
from webapp.extensions import db
from webapp.infrastructure.orm import OutboxRow, UserRow

pytestmark = pytest.mark.postgres

@pytest.fixture
def app(app_factory):  # noqa: ANN001, ANN201
    """Billing on: a verified account gets its Stripe customer job (off, it gets none)."""
    return app_factory(**BILLING_ON)


def count(app: Flask, stmt: Any) -> int:
    with app.app_context():
        try:
            return db.session.scalar(stmt)
        finally:
            db.session.remove()


@pytest.mark.parametrize(("field", "value"), [("email", "race@example.com"),
                                             ("phone", "+14155550142")])
def test_concurrent_registrations_of_one_address_make_one_account(
        app: Flask, field: str, value: str) -> None:
    def register(_: int) -> int:
        return app.test_client().post("/api/auth/register/", json={
            field: value, "password": PASSWORD}).status_code

    assert race(register) == [201] * RACERS
    column = getattr(UserRow, field)
    assert count(app, db.select(db.func.count()).select_from(UserRow)
                 .where(column == value)) == 1


def test_the_database_refuses_a_second_account_or_a_shared_customer(app: Flask) -> None:
    """The guarantees hold even for code that skips every application check."""
    with app.app_context():
        with app.extensions["ports"].uow() as uow:
            uow.session.add_all([_row("a@example.com", "cus_1"), _row("A2@example.com", None)])
            uow.commit()
        for email, customer in (("a@example.com", None), ("b@example.com", "cus_1")):
            with app.extensions["ports"].uow() as uow:
                uow.session.add(_row(email, customer))
                with pytest.raises(UniqueConflict):
                    uow.commit()
        db.session.remove()


def _row(email: str, customer: str | None) -> UserRow:
    from datetime import UTC, datetime

    return UserRow(email=email, password_hash="x", uniquifier=email, first_name="",
                   last_name="", stripe_customer_id=customer, created_at=datetime.now(UTC))


class CountingBilling(FakeBilling):
    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.creates = 0

    def create_customer(self, **kwargs: Any) -> str:
        with self.lock:
            self.creates += 1
            return super().create_customer(**kwargs)


def test_racing_verifications_and_workers_create_one_stripe_customer(
        app: Flask, client, register, outbox) -> None:  # noqa: ANN001
    register("racer@example.com")
    code = outbox.code("email", "racer@example.com")

    def verify(_: int) -> int:
        return app.test_client().post("/api/auth/email-verify/", json={
            "email": "racer@example.com", "code": code}).status_code

    assert race(verify) == [200] * RACERS
    jobs = db.select(db.func.count()).select_from(OutboxRow).where(
        OutboxRow.kind == "stripe_customer")
    assert count(app, jobs) == 1

    billing = CountingBilling()
    app.extensions["services"].delivery.billing = billing

    def deliver(i: int) -> int:
        with app.app_context():
            try:
                return app.extensions["services"].delivery.deliver_due(f"racer-{i}")
            finally:
                db.session.remove()

    race(deliver)
    assert billing.creates == 1
    assert count(app, db.select(db.func.count()).select_from(UserRow).where(
        UserRow.stripe_customer_id.is_not(None))) == 1
