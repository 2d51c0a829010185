"""Delivery over real servers: an SMTP outage loses nothing, and DELIVERY=worker waits for the
worker. The outbox is observed through the app's own repository, on the server's database."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import Outbox
from tests.e2e import servers
from webapp import create_app
from webapp.extensions import db

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"


@pytest.fixture
def observe() -> Iterator:
    """``observe(app_server)``: the outbox of that server's database, read from this process."""
    apps = []

    def _observe(server: servers.AppServer) -> Outbox:
        app = create_app({"APP_ENV": "testing", "SECRET_KEY": server.env["SECRET_KEY"],
                          "DATABASE_URL": server.env["DATABASE_URL"], "DELIVERY": "worker"})
        apps.append(app)
        return Outbox(app)

    yield _observe
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def register(server: servers.AppServer, address: str) -> None:
    started = time.monotonic()
    response = requests.post(server.url + "/api/auth/register/", timeout=10,
                             json={"email": address, "password": PASSWORD})
    assert response.status_code == 201, response.text
    assert time.monotonic() - started < 5, "the request waited for SMTP"


def test_smtp_down_at_registration_the_email_arrives_once_it_is_back(start_app, observe):
    smtp = servers.SmtpServer()  # its port is chosen, nothing listens there yet
    server = start_app(MAIL_SERVER=servers.HOST, MAIL_PORT=smtp.port, DELIVERY="inline",
                       DELIVERY_BACKOFF_SECONDS=1)
    outbox = observe(server)
    address = "outage@example.com"

    register(server, address)

    [failed] = servers.wait_for(
        lambda: [m for m in outbox.all("email", address) if m.attempts >= 1],
        what="a failed first attempt")
    assert failed.status == "pending"
    assert "ConnectionRefusedError" in failed.last_error
    with smtp:  # the SMTP server comes back on the same port
        [mail] = smtp.wait_for(address)
        servers.wait_for(lambda: all(m.status == "sent" for m in outbox.all("email", address)),
                         what="the outbox to record the delivery")
        assert len(smtp.messages(address)) == 1  # delivered, and nothing left to resend
    code = re.search(r"(?<!\d)(\d{6})(?!\d)", mail.text).group(1)
    verified = requests.post(server.url + "/api/auth/email-verify/", timeout=10,
                             json={"email": address, "code": code})
    assert verified.status_code == 200, verified.text


def test_delivery_worker_mode_sends_only_when_the_worker_runs(start_app, smtp_server, observe):
    server = start_app(MAIL_SERVER=servers.HOST, MAIL_PORT=smtp_server.port, DELIVERY="worker")
    outbox = observe(server)
    register(server, "queued@example.com")
    resend = requests.post(server.url + "/api/auth/email-verify/resend/", timeout=10,
                           json={"email": "queued@example.com"})
    assert resend.status_code == 202

    queued = outbox.all("email", "queued@example.com")
    assert [(m.status, m.attempts) for m in queued] == [("pending", 0), ("pending", 0)]
    assert smtp_server.messages() == []

    burst = server.flask("worker", "--burst")

    assert burst.returncode == 0
    assert "2 message(s) tried" in burst.stderr
    assert len(smtp_server.messages("queued@example.com")) == 2  # sent before the worker exited
    assert {m.status for m in outbox.all("email", "queued@example.com")} == {"sent"}
    again = server.flask("worker", "--burst")
    assert "0 message(s) tried" in again.stderr
    assert len(smtp_server.messages("queued@example.com")) == 2
