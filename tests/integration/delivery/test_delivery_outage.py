"""An SMTP server or SMS gateway that is down or silent never fails a request or loses mail."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError

from tests.conftest import PASSWORD, Outbox, make_app
from webapp import create_app
from webapp.application.policy import Policy
from webapp.extensions import db
from webapp.infrastructure import messaging
from webapp.infrastructure.messaging import SmtpMailer
from webapp.infrastructure.smtp import TimedConnection


def closed_port() -> int:
    """A loopback port where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float = 10.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.fixture
def make(tmp_path) -> Iterator:  # noqa: ANN001
    apps: list[Flask] = []

    def _make(**overrides) -> Flask:  # noqa: ANN003
        app = make_app(tmp_path, **overrides)
        apps.append(app)
        return app

    yield _make
    for app in apps:
        dispatcher = app.extensions["outbox_dispatcher"]
        dispatcher.wait_idle(5)
        # Stopped, not left polling: on PostgreSQL every test shares one database, and a
        # thread left behind would claim (and fail to send) a later test's messages.
        dispatcher.stop(timeout=5)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_gateway_timeouts_fit_well_inside_the_delivery_lease():
    policy = Policy()
    assert policy.delivery_send_budget < policy.delivery_lease
    # connect + read for HTTP; an SMTP exchange is several commands, each with its timeout.
    assert policy.delivery_send_budget.total_seconds() > 2 * messaging.GATEWAY_TIMEOUT
    assert policy.delivery_send_budget.total_seconds() > 2 * messaging.SMTP_TIMEOUT


def test_a_silent_smtp_server_times_out_instead_of_holding_the_worker(make, monkeypatch):
    with socket.socket() as silent:  # accepts connections (backlog) but never says hello
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        app = make(MAIL_SERVER="127.0.0.1", MAIL_PORT=silent.getsockname()[1])
        monkeypatch.setattr(TimedConnection, "timeout", 0.3)
        outcome: list[BaseException] = []

        def send() -> None:
            with app.app_context():
                try:
                    SmtpMailer("no-reply@example.com").send("a@example.com", "Hi", "t", "", "k1")
                except Exception as exc:  # noqa: BLE001
                    outcome.append(exc)

        thread = threading.Thread(target=send, daemon=True)  # a hang must not hang the suite
        thread.start()
        thread.join(5)
        assert not thread.is_alive(), "the SMTP send hung on a silent server"
        [error] = outcome
        assert isinstance(error, smtplib.SMTPServerDisconnected)
        assert "timed out" in str(error)


@pytest.mark.parametrize("identifier,kind,backend", [
    pytest.param({"email": "jane@example.com"}, "email", {}, id="smtp-down"),
    pytest.param({"phone": "+14155550123"}, "sms", {"SMS_BACKEND": "http"}, id="sms-gateway-down"),
])
def test_inline_delivery_outage_keeps_the_request_fast_and_the_message_queued(
        make, identifier, kind, backend):
    port = closed_port()
    app = make(DELIVERY="inline", MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
               SMS_HTTP_URL=f"http://127.0.0.1:{port}/sms", **backend)
    client = app.test_client()

    started = time.monotonic()
    response = client.post("/api/auth/register/", json={**identifier, "password": PASSWORD})

    assert response.status_code == 201
    assert time.monotonic() - started < 5
    to = identifier.get("email") or identifier["phone"]
    outbox = Outbox(app)
    tried = wait_until(lambda: [m for m in outbox.all(kind, to) if m.attempts >= 1])
    assert tried, "the inline delivery thread never tried the message"
    [message] = tried
    assert message.status == "pending"
    assert message.sent_at is None
    assert "Connect" in (message.last_error or "")  # ConnectionRefusedError / ConnectionError
    assert message.next_attempt_at > message.created_at  # rescheduled with backoff


def test_worker_burst_survives_an_smtp_outage_and_keeps_the_message(make):
    app = make(DELIVERY="worker", MAIL_SERVER="127.0.0.1", MAIL_PORT=closed_port())
    client = app.test_client()
    assert client.post("/api/auth/register/", json={
        "email": "jane@example.com", "password": PASSWORD}).status_code == 201

    result = app.test_cli_runner().invoke(args=["worker", "--burst"])

    assert result.exit_code == 0, result.output
    [message] = Outbox(app).all("email", "jane@example.com")
    assert (message.status, message.attempts) == ("pending", 1)
    assert "ConnectionRefusedError" in message.last_error


def test_inline_delivery_picks_up_what_a_previous_process_left_pending(make, tmp_path):
    before = make(DELIVERY="worker")  # queued, never delivered: as if the process died
    assert before.test_client().post("/api/auth/register/", json={
        "email": "jane@example.com", "password": PASSWORD}).status_code == 201
    restarted = create_app({"APP_ENV": "testing", "SECRET_KEY": before.config["SECRET_KEY"],
                            "DATABASE_URL": before.config["SQLALCHEMY_DATABASE_URI"],
                            "DELIVERY": "inline", "RATELIMIT_ENABLED": False})
    try:
        assert restarted.test_client().get("/healthz").status_code == 200  # any first request

        outbox = Outbox(restarted)
        sent = wait_until(lambda: [m for m in outbox.all("email") if m.status == "sent"])
        assert sent, "the restarted process never delivered the pending message"
    finally:
        restarted.extensions["outbox_dispatcher"].wait_idle(5)
        restarted.extensions["outbox_dispatcher"].stop(timeout=5)
        with restarted.app_context():
            db.session.remove()
            db.engine.dispose()


def _flaky_delivery(app: Flask, monkeypatch, *, then_stop: bool) -> list[int]:  # noqa: ANN001
    """The worker's first pass fails as on a database restart; the next ones deliver.
    With ``then_stop``, the first pass with nothing left sends the process SIGTERM."""
    delivery = app.extensions["services"].delivery
    real, tried = delivery.deliver_due, []

    def flaky(name: str, batch: int, stop) -> int:  # noqa: ANN001
        if not tried:
            tried.append(-1)
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        tried.append(real(name, batch, stop=stop))
        if then_stop and tried[-1] == 0:
            os.kill(os.getpid(), signal.SIGTERM)
        return tried[-1]

    monkeypatch.setattr(delivery, "deliver_due", flaky)
    return tried


@pytest.fixture
def own_signals() -> Iterator[None]:
    """The worker command installs SIGTERM/SIGINT handlers: give pytest its own back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def test_a_worker_outlives_a_database_outage(make, monkeypatch, caplog, own_signals):
    app = make(DELIVERY="worker")
    assert app.test_client().post("/api/auth/register/", json={
        "email": "jane@example.com", "password": PASSWORD}).status_code == 201
    tried = _flaky_delivery(app, monkeypatch, then_stop=True)

    result = app.test_cli_runner().invoke(args=["worker", "--idle-sleep", "0.01"])

    assert result.exit_code == 0, result.output
    assert tried[:2] == [-1, 1]  # failed, then delivered on the next pass
    [message] = Outbox(app).all("email", "jane@example.com")
    assert message.status == "sent"
    assert "delivery failed; trying again" in caplog.text
    assert "server closed the connection" in caplog.text


def test_a_burst_worker_reports_a_failed_pass_with_exit_status_1(make, monkeypatch,
                                                                 own_signals):
    app = make(DELIVERY="worker")
    assert app.test_client().post("/api/auth/register/", json={
        "email": "jane@example.com", "password": PASSWORD}).status_code == 201
    _flaky_delivery(app, monkeypatch, then_stop=False)

    result = app.test_cli_runner().invoke(args=["worker", "--burst"])

    assert result.exit_code == 1
    assert "delivery failed" in result.output and "server closed" in result.output
    [message] = Outbox(app).all("email", "jane@example.com")
    assert message.status == "pending"  # kept for the next run
