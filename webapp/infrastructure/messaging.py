"""Rendering and sending messages: Jinja templates, Flask-Mail SMTP, console, SMS gateways."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import requests
from flask_mail import Mail, Message
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from webapp.application.interfaces import RenderedMessage

log = logging.getLogger("webapp.delivery")

GATEWAY_TIMEOUT = 10  # seconds; well inside the delivery lease


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

    def __init__(self, mail: Mail, sender: str) -> None:
        self.mail = mail
        self.sender = sender

    def send(self, to: str, subject: str, text: str, html: str, message_id: str) -> None:
        message = Message(subject=subject, recipients=[to], body=text, html=html or None,
                          sender=self.sender, extra_headers={"X-Outbox-Key": message_id})
        self.mail.send(message)


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
        response = requests.post(self.url, json={"to": to, "body": body}, headers=headers,
                                 timeout=GATEWAY_TIMEOUT)
        response.raise_for_status()


class TwilioSms:
    """Twilio's official library (``pip install twilio``), imported only when chosen."""

    def __init__(self, account_sid: str, auth_token: str, sender: str) -> None:
        from twilio.rest import Client  # noqa: PLC0415 - optional dependency

        self.client = Client(account_sid, auth_token)
        self.sender = sender

    def send(self, to: str, body: str, message_id: str) -> None:
        self.client.messages.create(to=to, from_=self.sender, body=body)
