"""Changing an address and deleting an account over real HTTP: gunicorn, a real SMTP server,
localstripe and `flask worker`. Every code and link comes out of a delivered email."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e import servers
from tests.e2e.stripe_servers import KEY, LocalStripe

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a completely new passphrase"


def code_in(text: str) -> str:
    match = re.search(r"(?<!\d)(\d{6})(?!\d)", text)
    assert match, text
    return match.group(1)


def link_in(text: str, base: str, path: str) -> str:
    match = re.search(rf"{re.escape(base + path)}(\S+)", text)
    assert match, text
    return match.group(1)


class Client:
    def __init__(self, app: servers.AppServer, smtp: servers.SmtpServer) -> None:
        self.app, self.smtp = app, smtp

    def call(self, method: str, path: str, body: dict | None = None,
             access: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {access}"} if access else {}
        return requests.request(method, self.app.url + path, json=body, headers=headers,
                                timeout=10)

    def email(self, to: str, count: int) -> servers.Received:
        return self.smtp.wait_for(to, count, timeout=30)[count - 1]

    def signed_up(self, email: str) -> str:
        """A verified account; its access token."""
        assert self.call("POST", "/api/auth/register/",
                         {"email": email, "password": PASSWORD}).status_code == 201
        code = code_in(self.email(email, 1).text)
        assert self.call("POST", "/api/auth/email-verify/",
                         {"email": email, "code": code}).status_code == 200
        return self.login(email)

    def login(self, email: str, password: str = PASSWORD) -> str:
        answer = self.call("POST", "/api/auth/login/", {"email": email, "password": password})
        assert answer.status_code == 200, answer.text
        return answer.json()["tokens"]["access"]


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    with LocalStripe().start() as server:
        yield server


def _site(tmp: Path, smtp: servers.SmtpServer, **env: str) -> dict[str, str]:
    settings = servers.app_env(f"sqlite:///{tmp / 'app.db'}", MAIL_SERVER=servers.HOST,
                               MAIL_PORT=smtp.port, **env)
    servers.migrate(settings)  # 0008 too, from nothing
    return settings


def test_change_an_email_then_take_it_back_from_the_old_address(tmp_path):
    with servers.SmtpServer() as smtp:
        env = _site(tmp_path, smtp)
        with servers.AppServer(env, workers=2, log_dir=tmp_path).start() as app:
            site = Client(app, smtp)
            old, new = "owner@example.com", "hijacker@example.com"
            access = site.signed_up(old)
            asked = site.call("POST", "/api/auth/email-change/", {"new_email": new}, access)
            assert asked.status_code == 202, asked.text
            proof = site.email(new, 1)
            assert "Confirm your new email" in proof.message["Subject"]
            notice = site.email(old, 2)
            assert "was asked for" in notice.message["Subject"]
            done = site.call("POST", "/api/auth/email-change/confirm/",
                             {"code": code_in(proof.text)}, access)
            assert done.status_code == 200 and done.json()["email"] == new
            changed = site.email(old, 3)
            undo = link_in(changed.text, app.url, "/account/undo/")
            hijacker = site.login(new)
            back = site.call("POST", "/api/auth/email-change/undo/", {
                "token": undo, "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD})
            assert back.status_code == 200, back.text
            assert site.call("GET", "/api/auth/me/", access=hijacker).status_code == 401
            assert site.login(old, NEW_PASSWORD)
            assert site.call("POST", "/api/auth/login/", {
                "email": new, "password": NEW_PASSWORD}).status_code == 401
            assert "password was changed" in site.email(old, 4).message["Subject"]


def subscribe(stripe: LocalStripe, customer: str) -> str:
    """A paying subscription of ``customer`` in localstripe (a plan, a card, the subscription)."""
    auth = (KEY, "")
    requests.post(f"{stripe.url}/v1/plans", auth=auth, timeout=10, data={
        "id": "basic", "amount": 500, "currency": "usd", "interval": "month",
        "product[name]": "Basic"})
    card = requests.post(f"{stripe.url}/v1/payment_methods", auth=auth, timeout=10, data={
        "type": "card", "card[number]": "4242424242424242", "card[exp_month]": 12,
        "card[exp_year]": 2030, "card[cvc]": "123"}).json()["id"]
    requests.post(f"{stripe.url}/v1/payment_methods/{card}/attach", auth=auth, timeout=10,
                  data={"customer": customer}).raise_for_status()
    requests.post(f"{stripe.url}/v1/customers/{customer}", auth=auth, timeout=10,
                  data={"invoice_settings[default_payment_method]": card}).raise_for_status()
    subscription = requests.post(f"{stripe.url}/v1/subscriptions", auth=auth, timeout=10, data={
        "customer": customer, "items[0][plan]": "basic"}).json()
    assert subscription["status"] == "active", subscription
    return subscription["id"]


def stripe_get(stripe: LocalStripe, path: str) -> requests.Response:
    return requests.get(f"{stripe.url}/v1/{path}", auth=(KEY, ""), timeout=10)


def test_delete_at_once_with_stripe_down_then_back(tmp_path, localstripe):
    localstripe.flush()
    with servers.SmtpServer() as smtp:
        env = _site(tmp_path, smtp, DELIVERY="worker", ACCOUNT_DELETION_GRACE="0",
                    DELIVERY_BACKOFF_SECONDS="1", STRIPE_SECRET_KEY=KEY,
                    STRIPE_API_BASE=localstripe.url)
        down = {**env, "STRIPE_API_BASE": f"http://{servers.HOST}:{servers.free_port()}"}
        with servers.AppServer(env, workers=2, log_dir=tmp_path).start() as app:
            site = Client(app, smtp)
            email = "leaving@example.com"
            # The verification email is sent by the worker in this mode.
            assert site.call("POST", "/api/auth/register/",
                             {"email": email, "password": PASSWORD}).status_code == 201
            servers.flask(["worker", "--burst"], env)
            code = code_in(site.email(email, 1).text)
            user = site.call("POST", "/api/auth/email-verify/", {"email": email, "code": code})
            servers.flask(["worker", "--burst"], env)  # the Stripe customer
            (customer,) = localstripe.customers_of(user.json()["user"]["id"])
            subscription = subscribe(localstripe, customer)
            access = site.login(email)

            # An email change reaches the Stripe customer through the outbox.
            new = "leaving.new@example.com"
            site.call("POST", "/api/auth/email-change/", {"new_email": new}, access)
            servers.flask(["worker", "--burst"], env)
            code = code_in(site.email(new, 1).text)
            assert site.call("POST", "/api/auth/email-change/confirm/", {"code": code},
                             access).status_code == 200
            servers.flask(["worker", "--burst"], env)
            assert stripe_get(localstripe, f"customers/{customer}").json()["email"] == new

            gone = site.call("DELETE", "/api/auth/me/", access=access)
            assert gone.status_code == 202 and gone.json()["erase_at"] is None
            assert site.call("GET", "/api/auth/me/", access=access).status_code == 401

            servers.flask(["worker", "--burst"], down)  # Stripe down: the job waits
            assert customer in [c["id"] for c in localstripe.customers()]
            time.sleep(2.5)  # the retry's backoff (1 s, then 2 s)
            servers.flask(["worker", "--burst"], env)  # Stripe back
            assert stripe_get(localstripe, f"customers/{customer}").status_code == 404
            assert stripe_get(localstripe, f"subscriptions/{subscription}").json()[
                "status"] == "canceled"

            again = site.call("POST", "/api/auth/register/",
                              {"email": new, "password": PASSWORD})
            assert again.status_code == 201
            servers.flask(["worker", "--burst"], env)
            fresh = site.email(new, 2)  # a new account's verification, not "account exists"
            assert "Verify your email" in fresh.message["Subject"]
