"""Exactly one Stripe customer per verified user, against localstripe (a real, stateful Stripe
emulator reached by the official library), with real `flask worker` processes delivering."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import PASSWORD, Outbox, make_app
from tests.e2e.servers import BIN, ROOT, app_env, free_port, wait_for
from tests.e2e.stripe_servers import KEY, FlakyProxy, LocalStripe
from webapp.extensions import db
from webapp.infrastructure.orm import OutboxRow

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    with LocalStripe().start() as server:
        yield server


@pytest.fixture
def stripe(localstripe: LocalStripe) -> LocalStripe:
    localstripe.flush()
    return localstripe


class Site:
    """The app in this process (requests through its test client); workers as subprocesses."""

    def __init__(self, app: Flask, api_base: str) -> None:
        self.app = app
        self.outbox = Outbox(app)
        self.api_base = api_base

    def env(self, api_base: str | None = None) -> dict[str, str]:
        return app_env(self.app.config["SQLALCHEMY_DATABASE_URI"],
                       SECRET_KEY=self.app.config["SECRET_KEY"], DELIVERY="worker",
                       STRIPE_SECRET_KEY=KEY, STRIPE_API_BASE=api_base or self.api_base,
                       LOG_LEVEL="WARNING")

    def worker(self, *args: str, api_base: str | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(BIN / "flask"), "--app", "wsgi", "worker", *args],
            env=self.env(api_base), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True)

    def burst(self, api_base: str | None = None) -> None:
        process = self.worker("--burst", api_base=api_base)
        output, _ = process.communicate(timeout=90)
        assert process.returncode == 0, output

    def register_and_code(self, email: str) -> str:
        client = self.app.test_client()
        assert client.post("/api/auth/register/", json={
            "email": email, "password": PASSWORD, "first_name": "Jane"}).status_code == 201
        return self.outbox.code("email", email)

    def verify(self, email: str, code: str) -> int | None:
        """The user's id; None for the repeat of a used code (that answer has no user)."""
        response = self.app.test_client().post("/api/auth/email-verify/",
                                               json={"email": email, "code": code})
        assert response.status_code == 200, response.json
        return response.json["user"]["id"] if "user" in response.json else None

    def customer_id(self, user_id: int) -> str | None:
        with self.app.app_context(), self.app.extensions["ports"].uow() as uow:
            return uow.users.get(user_id).stripe_customer_id

    def job(self, user_id: int) -> Any:
        (job,) = [m for m in self.outbox.all("stripe_customer") if m.user_id == user_id]
        return job

    def expire_lease(self, user_id: int) -> None:
        """What the clock does to a dead worker's claim after the lease (60 s): it ends."""
        with self.app.app_context():
            row = db.session.get(OutboxRow, self.job(user_id).id)
            assert row.locked_by is not None  # the dead worker still holds it
            row.locked_until = datetime.now(UTC) - timedelta(seconds=1)
            db.session.commit()

    def staff_retry(self, user_id: int) -> None:
        with self.app.app_context():
            self.app.extensions["services"].delivery.retry(self.job(user_id).id)


@pytest.fixture
def site_for(tmp_path: Path) -> Iterator[Any]:
    apps: list[Flask] = []

    def build(api_base: str) -> Site:
        app = make_app(tmp_path, STRIPE_SECRET_KEY=KEY, STRIPE_API_BASE=api_base)
        apps.append(app)
        return Site(app, api_base)

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


def test_a_double_click_on_verify_makes_one_customer(stripe, site_for):
    site = site_for(stripe.url)
    code = site.register_and_code("jane@example.com")
    ids: list[int] = []
    clicks = [threading.Thread(target=lambda: ids.append(site.verify("jane@example.com", code)))
              for _ in range(2)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    assert len(ids) == 2
    (user_id,) = {i for i in ids if i is not None}  # the later click may be the bare repeat
    site.burst()
    site.burst()
    (customer,) = stripe.customers_of(user_id)
    assert site.customer_id(user_id) == customer
    assert len(stripe.customers()) == 1


def test_ten_verifications_delivered_by_two_workers_make_ten_customers(stripe, site_for):
    site = site_for(stripe.url)
    emails = [f"user{i}@example.com" for i in range(10)]
    codes = {email: site.register_and_code(email) for email in emails}
    user_ids: list[int] = []
    threads = [threading.Thread(target=lambda e=email: user_ids.append(site.verify(e, codes[e])))
               for email in emails]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    workers = [site.worker("--burst", "--batch", "1") for _ in range(2)]
    for worker in workers:
        output, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, output
    assert len(user_ids) == 10
    for user_id in user_ids:
        (customer,) = stripe.customers_of(user_id)
        assert site.customer_id(user_id) == customer
    assert len(stripe.customers()) == 10


@pytest.mark.parametrize("mode", ["refuse", "lose"])
def test_a_first_attempt_that_failed_with_500_leaves_one_customer(stripe, site_for, mode):
    with FlakyProxy(stripe.url, mode) as proxy:
        site = site_for(proxy.url)
        user_id = site.verify("jane@example.com", site.register_and_code("jane@example.com"))
        site.burst()
        job = site.job(user_id)
        assert job.status == "pending" and job.attempts == 1
        assert job.last_error == "APIError: Stripe had a bad day"
        assert site.customer_id(user_id) is None
        assert len(stripe.customers_of(user_id)) == (1 if mode == "lose" else 0)
        site.staff_retry(user_id)  # or wait out the backoff
        site.burst()
        assert proxy.customer_posts == (1 if mode == "lose" else 2)
    (customer,) = stripe.customers_of(user_id)
    assert site.customer_id(user_id) == customer
    assert site.job(user_id).status == "sent"


def test_a_worker_killed_mid_call_leaves_one_customer(stripe, site_for):
    with FlakyProxy(stripe.url, "hang") as proxy:
        site = site_for(proxy.url)
        user_id = site.verify("jane@example.com", site.register_and_code("jane@example.com"))
        worker = site.worker("--burst")
        try:
            wait_for(lambda: proxy.customer_posts == 1 and stripe.customers_of(user_id), 60,
                     what="the worker's create call reached Stripe")
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.communicate(timeout=30)
        proxy.release()
        assert site.customer_id(user_id) is None
        site.expire_lease(user_id)  # then any worker may take the job again
        site.burst()
        assert proxy.customer_posts == 1  # found, not created again
    (customer,) = stripe.customers_of(user_id)
    assert site.customer_id(user_id) == customer


def test_stripe_down_verification_succeeds_and_the_customer_comes_when_it_is_back(
        stripe, site_for):
    down = f"http://127.0.0.1:{free_port()}"
    site = site_for(down)
    user_id = site.verify("jane@example.com", site.register_and_code("jane@example.com"))
    site.burst()
    assert site.job(user_id).attempts == 1 and site.customer_id(user_id) is None
    site.staff_retry(user_id)
    site.burst(api_base=stripe.url)
    (customer,) = stripe.customers_of(user_id)
    assert site.customer_id(user_id) == customer
