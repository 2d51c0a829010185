"""An account erased (grace 0, ``flask users delete``) while its Stripe customer is being
made, on the real database: the erasure waits for a job that holds a lease, a customer
that comes back for an erased account is deleted at Stripe, and on PostgreSQL the job's
read and the erasure meet on the account's row lock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import log_in_browser, make_app
from tests.fakes import FakeBilling
from tests.helpers.app import make_user, ports, reload, services
from tests.helpers.locks import waits_while_held
from tests.integration.billing.helpers import WEBHOOK_SECRET, deliver
from webapp.domain.model import MessageKind, OutboxMessage
from webapp.extensions import db

EMAIL = "jane@example.com"


@pytest.fixture
def app(tmp_path: Path, fake_billing: FakeBilling) -> Iterator[Flask]:
    app = make_app(tmp_path, STRIPE_SECRET_KEY="sk_test_integration",
                   STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, STRIPE_API_BASE="http://127.0.0.1:9",
                   ACCOUNT_DELETION_GRACE=0)
    found = services(app)
    found.billing.gateway = found.delivery.billing = fake_billing
    found.delivery.handlers[MessageKind.CUSTOMER_DELETE].__self__.gateway = fake_billing
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def shift(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[timedelta]:
    """The app's clock, moved on by ``shift[0]``."""
    moved = [timedelta(0)]
    monkeypatch.setattr(ports(app).clock, "now", lambda: datetime.now(UTC) + moved[0])
    return moved


def _queued_customer(app: Flask) -> int:
    """A verified account whose customer creation is queued, as verification leaves it."""
    user = make_user(app, EMAIL, first_name="Jane", last_name="Doe")
    now = datetime.now(UTC)
    with app.app_context(), ports(app).uow() as uow:
        uow.outbox.add(OutboxMessage(
            kind=MessageKind.STRIPE_CUSTOMER, payload={"user_id": user.id}, created_at=now,
            next_attempt_at=now, user_id=user.id, idempotency_key=f"customer-create-{user.id}"))
        uow.commit()
    return user.id or 0


def _taken(app: Flask) -> list[OutboxMessage]:
    """A worker has claimed what is due (a minute's lease) and not yet read the account."""
    now = datetime.now(UTC)
    with app.app_context(), ports(app).uow() as uow:
        batch = uow.outbox.claim_due(now, now + timedelta(minutes=1), "w1", 20)
        uow.commit()
    return batch


def _delete_by_staff(app: Flask) -> datetime | None:
    with app.app_context():
        try:
            return services(app).account_data.delete_by_staff(EMAIL)
        finally:
            db.session.remove()


def _gone(app: Flask, user_id: int) -> bool:
    with app.app_context(), ports(app).uow() as uow:
        return uow.users.get(user_id) is None


def _after_the_lease(app: Flask, shift: list[timedelta]) -> None:
    for minutes in (2, 4, 8):
        shift[0] = timedelta(minutes=minutes)
        deliver(app)


def test_erasure_during_the_creation_call_waits_then_the_customer_is_deleted(
        app, fake_billing, shift):
    user_id = _queued_customer(app)
    dues: list[datetime | None] = []
    existed: list[bool] = []

    def staff_deletes_meanwhile(call: str) -> None:
        dues.append(_delete_by_staff(app))
        existed.append(not _gone(app, user_id))

    fake_billing.meanwhile = staff_deletes_meanwhile
    deliver(app)
    fake_billing.meanwhile = None
    assert dues[0] is not None and existed == [True]  # closed now, erased after the job
    user = reload(app, user_id)
    assert not user.is_active and user.stripe_customer_id == "cus_1"
    _after_the_lease(app, shift)
    assert _gone(app, user_id)
    assert fake_billing.customers == {} and fake_billing.deleted == ["cus_1"]


def test_a_customer_made_for_an_account_erased_meanwhile_is_deleted(app, fake_billing, shift):
    user_id = _queued_customer(app)
    outcome: list[datetime | None] = []

    def hung_past_the_lease_then_erased(call: str) -> None:
        shift[0] = timedelta(minutes=2)
        outcome.append(_delete_by_staff(app))

    fake_billing.meanwhile = hung_past_the_lease_then_erased
    deliver(app)
    fake_billing.meanwhile = None
    assert outcome == [None] and _gone(app, user_id)
    fake_billing.fail_times = 1  # Stripe down for the first try: retried, not lost
    _after_the_lease(app, shift)
    assert fake_billing.customers == {} and set(fake_billing.deleted) == {"cus_1"}


@pytest.mark.postgres
def test_the_jobs_read_waits_for_an_erasure_in_flight(app, fake_billing):
    user_id = _queued_customer(app)
    batch = _taken(app)

    def job() -> None:
        with app.app_context():
            try:
                services(app).delivery.deliver_claimed(batch, "w1")
            finally:
                db.session.remove()

    waited = waits_while_held(app, [  # the erasure: the account's row locked, then gone
        ("SELECT id FROM users WHERE id = :id FOR UPDATE", {"id": user_id}),
        ("DELETE FROM users WHERE id = :id", {"id": user_id}),
    ], job, commit=True)
    assert waited
    assert fake_billing.customers == {}  # it read after the erasure: nothing was sent


@pytest.mark.postgres
def test_an_erasure_that_meets_the_jobs_read_waits_for_its_lease(app, fake_billing):
    user_id = _queued_customer(app)
    _taken(app)
    dues: list[datetime | None] = []
    waited = waits_while_held(app, [  # the job's read of the account, under its row lock
        ("SELECT id FROM users WHERE id = :id FOR UPDATE", {"id": user_id}),
    ], lambda: dues.append(_delete_by_staff(app)))
    assert waited and dues and dues[0] is not None
    assert not _gone(app, user_id)  # erased once that job's lease is over


def test_the_api_says_when_a_deletion_waits_for_a_stripe_job(app, client, tokens, fake_billing):
    taken = _taken(app)  # the verification's job among them
    assert MessageKind.STRIPE_CUSTOMER in [job.kind for job in taken]
    response = client.delete("/api/auth/me/",
                             headers={"Authorization": f"Bearer {tokens['access']}"})
    assert response.status_code == 202, response.json
    assert response.json["detail"] == "Your account is closed and will be erased within a minute."
    assert response.json["erase_at"] is not None
    assert client.get("/api/auth/me/", headers={
        "Authorization": f"Bearer {tokens['access']}"}).status_code == 401


def test_the_page_says_when_a_deletion_waits_for_a_stripe_job(app, client):
    user_id = _queued_customer(app)
    _taken(app)
    log_in_browser(client, reload(app, user_id))
    app.config["WTF_CSRF_ENABLED"] = False
    gone = client.post("/account/delete", follow_redirects=True)
    assert "Your account is closed and will be erased within a minute." in gone.text
    assert "link to" not in gone.text  # no cancel link: there is no grace
    assert not _gone(app, user_id) and not reload(app, user_id).is_active


def test_the_command_says_when_a_deletion_waits_for_a_stripe_job(app):
    _queued_customer(app)
    _taken(app)
    said = app.test_cli_runner().invoke(args=["users", "delete", EMAIL, "--yes"])
    assert said.exit_code == 0, said.output
    assert said.output.startswith(f"{EMAIL}: closed; erased at ")
    assert "unless cancelled" not in said.output  # no grace: nothing to cancel
