"""Rendering and sending messages: Jinja templates, Flask-Mail SMTP, console, SMS gateways."""

from __future__ import annotations

import logging
import smtplib
from pathlib import Path
from typing import Any

from flask import current_app
from flask_mail import Connection, Message
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from webapp.application.interfaces import RenderedMessage

log = logging.getLogger("webapp.delivery")

# Seconds per network operation (connect, each SMTP command, HTTP connect and read): a send
# finishes well inside Policy.delivery_send_budget, so a slow server never makes a worker
# hold a message past its lease (tests/integration/test_delivery_outage.py checks this).
GATEWAY_TIMEOUT = 10
SMTP_TIMEOUT = 10


class JinjaRenderer:
    """``email/NAME.txt`` starts with ``Subject: ...`` and a blank line; ``email/NAME.html``
    is the optional HTML part; ``sms/NAME.txt`` is the SMS body."""

    def __init__(self, template_dir: Path) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(template_dir)),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        )

    def render(self, template: str, context: dict[str, Any]) -> RenderedMessage:
        text = self.env.get_template(f"{template}.txt").render(context)
        subject = ""
        if text.startswith("Subject:"):
            first, _, text = text.partition("\n")
            subject = first.removeprefix("Subject:").strip()
        try:
            html = self.env.get_template(f"{template}.html").render(
                {**context, "subject": subject})
        except TemplateNotFound:
            html = ""
        return RenderedMessage(subject=subject, text=text.strip() + "\n", html=html)


class SmtpMailer:
    """Flask-Mail over SMTP (needs an application context, which delivery always has)."""

    def __init__(self, sender: str) -> None:
        self.sender = sender

    def send(self, to: str, subject: str, text: str, html: str, message_id: str) -> None:
        message = Message(subject=subject, recipients=[to], body=text, html=html or None,
                          sender=self.sender, extra_headers={"X-Outbox-Key": message_id})
        with TimedConnection(current_app.extensions["mail"]) as connection:
            message.send(connection)


class TimedConnection(Connection):
    """Flask-Mail's connection with a socket timeout. Flask-Mail opens ``smtplib.SMTP`` without
    one, so a server that accepts and then stays silent would hold the worker for ever."""

    timeout: float = SMTP_TIMEOUT

    def configure_host(self) -> smtplib.SMTP:
        state = self.mail
        factory = smtplib.SMTP_SSL if state.use_ssl else smtplib.SMTP
        host = factory(state.server, state.port, timeout=self.timeout)
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


class ConsoleMailer:
    """Development: the message goes to the log; the dev outbox page shows it whole."""

    def send(self, to: str, subject: str, text: str, html: str, message_id: str) -> None:
        log.info("email to %s: %s\n%s", to, subject, text)


class ConsoleSms:
    def send(self, to: str, body: str, message_id: str) -> None:
        log.info("sms to %s: %s", to, body)


class HttpSms:
    """POST ``{"to", "body"}`` as JSON to a gateway, with an optional bearer token."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.token = token

    def send(self, to: str, body: str, message_id: str) -> None:
        headers = {"Idempotency-Key": message_id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        import requests  # only SMS_BACKEND=http needs it: not loaded by every app server

        response = requests.post(self.url, json={"to": to, "body": body}, headers=headers,
                                 timeout=GATEWAY_TIMEOUT)
        response.raise_for_status()


class TwilioSms:
    """Twilio's official library (``pip install twilio``), imported only when chosen."""

    def __init__(self, account_sid: str, auth_token: str, sender: str,
                 http_client: object | None = None) -> None:
        try:
            from twilio.http.http_client import TwilioHttpClient  # noqa: PLC0415 - optional
            from twilio.rest import Client  # noqa: PLC0415 - optional dependency
        except ImportError as exc:
            raise RuntimeError("SMS_BACKEND=twilio needs Twilio's library: "
                               "pip install 'webapp[twilio]' (or pip install twilio)") from exc
        # Twilio's client has no timeout by default; a hung request would outlive the lease.
        self.client = Client(account_sid, auth_token,
                             http_client=http_client or TwilioHttpClient(timeout=GATEWAY_TIMEOUT))
        self.sender = sender

    def send(self, to: str, body: str, message_id: str) -> None:
        self.client.messages.create(to=to, from_=self.sender, body=body)
