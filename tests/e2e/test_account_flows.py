"""The account flows over real HTTP: gunicorn (2 workers), a real SMTP server, an SMS gateway.

Every code and link comes out of a delivered email or SMS, never out of the database.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.e2e import servers

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"


@dataclass
class Live:
    app: servers.AppServer
    smtp: servers.SmtpServer
    sms: servers.HttpSink

    def post(self, path: str, body: dict, **kwargs) -> requests.Response:  # noqa: ANN003
        return requests.post(self.app.url + path, json=body, timeout=10, **kwargs)

    def email(self, to: str, count: int = 1) -> servers.Received:
        """The ``count``-th email to ``to`` (waits for it)."""
        return self.smtp.wait_for(to, count)[count - 1]

    def sms_to(self, phone: str, count: int = 1) -> str:
        hits = self.sms.wait_for(lambda hit: hit.body["to"] == phone, count)
        return hits[count - 1].body["body"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("flows")
    with servers.SmtpServer() as smtp, servers.HttpSink(name="sms-gateway") as sms:
        env = servers.app_env(f"sqlite:///{tmp / 'app.db'}", MAIL_SERVER=servers.HOST,
                              MAIL_PORT=smtp.port, SMS_BACKEND="http",
                              SMS_HTTP_URL=f"{sms.url}/messages", SMS_HTTP_TOKEN="sms-secret")
        servers.migrate(env)
        with servers.AppServer(env, workers=2, log_dir=tmp).start() as app:
            yield Live(app, smtp, sms)


def code_in(text: str) -> str:
    match = re.search(r"(?<!\d)(\d{6})(?!\d)", text)
    assert match, text
    return match.group(1)


def link_in(text: str, base: str, path: str) -> str:
    match = re.search(rf"{re.escape(base + path)}(\S+)", text)
    assert match, text
    return match.group(1)


def register(live: Live, **body: str) -> requests.Response:
    started = time.monotonic()
    response = live.post("/api/auth/register/", {"password": PASSWORD, **body})
    assert response.status_code == 201, response.text
    assert time.monotonic() - started < 5  # delivery is off the request path
    return response


def login(live: Live, **identifier: str) -> requests.Response:
    return live.post("/api/auth/login/", {**identifier, "password": PASSWORD})


def test_register_by_email_then_verify_with_the_emailed_link(live):
    register(live, email="Link.User@Example.com", first_name="Lin")

    mail = live.email("link.user@example.com")
    assert mail.message["Subject"].startswith("Verify your email address")
    assert mail.message["X-Outbox-Key"]  # stable across retries
    assert "Verify my email" in mail.html  # the HTML alternative travels too
    token = link_in(mail.text, live.app.url, "/verify/")
    assert login(live, email="link.user@example.com").json()["code"] == "unverified"

    verified = live.post("/api/auth/email-verify/", {"token": token})

    assert verified.status_code == 200, verified.text
    assert verified.json()["user"]["email_verified"] is True
    tokens = login(live, email="LINK.USER@example.com").json()["tokens"]
    me = requests.get(live.app.url + "/api/auth/me/", timeout=10,
                      headers={"Authorization": f"Bearer {tokens['access']}"})
    assert me.status_code == 200
    assert (me.json()["email"], me.json()["first_name"]) == ("link.user@example.com", "Lin")


def test_register_by_email_then_verify_with_the_emailed_code(live):
    register(live, email="code.user@example.com")
    code = code_in(live.email("code.user@example.com").text)

    verified = live.post("/api/auth/email-verify/", {"email": "code.user@example.com",
                                                     "code": code})

    assert verified.status_code == 200, verified.text
    assert login(live, email="code.user@example.com").status_code == 200


def test_register_by_phone_then_verify_with_the_texted_code(live):
    register(live, phone="+1 415 555 0142")
    hit = live.sms.wait_for(lambda hit: hit.body["to"] == "+14155550142")[0]
    assert hit.path == "/messages"
    assert hit.headers["Authorization"] == "Bearer sms-secret"
    assert hit.headers["Idempotency-Key"]

    verified = live.post("/api/auth/phone-verify/", {"phone": "+14155550142",
                                                     "code": code_in(hit.body["body"])})

    assert verified.status_code == 200, verified.text
    assert verified.json()["user"]["phone_verified"] is True
    assert login(live, phone="+14155550142").status_code == 200


def test_password_reset_through_the_emailed_link(live):
    address = "reset.user@example.com"
    register(live, email=address)
    live.post("/api/auth/email-verify/", {"email": address,
                                          "code": code_in(live.email(address).text)})
    refresh = login(live, email=address).json()["tokens"]["refresh"]

    assert live.post("/api/auth/password-reset/", {"email": address}).status_code == 202
    mail = live.email(address, count=2)
    assert "Reset your" in mail.message["Subject"]
    token = link_in(mail.text, live.app.url, "/reset/")
    assert live.post("/api/auth/password-reset/verify/", {"token": token}).json() == {
        "valid": True}
    new = "a completely new passphrase"

    confirmed = live.post("/api/auth/password-reset/confirm/", {
        "token": token, "new_password": new, "confirm_password": new})

    assert confirmed.status_code == 200, confirmed.text
    assert live.email(address, count=3).message["Subject"]  # "your password was changed"
    assert login(live, email=address).status_code == 401
    assert live.post("/api/auth/login/", {"email": address, "password": new}).status_code == 200
    assert live.post("/api/auth/token/refresh/", {"refresh": refresh}).status_code == 401
