"""Rendering and sending messages: Jinja templates, SMTP (smtp.py), console, SMS gateways."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from webapp.application.interfaces import RenderedMessage, Undeliverable
from webapp.infrastructure.timeouts import GATEWAY_TIMEOUT, SMTP_TIMEOUT

__all__ = ["GATEWAY_TIMEOUT", "SMTP_TIMEOUT", "ConsoleMailer", "ConsoleSms", "HttpSms",
           "JinjaRenderer", "SmtpMailer", "TwilioSms"]

log = logging.getLogger("webapp.delivery")
console = logging.getLogger("webapp.delivery.console")  # development: see log_filter.py



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
        # Imported on the first message: Flask-Mail and smtplib (about 1 MiB per process)
        # wait until a process sends one (a login never does).
        from webapp.infrastructure.smtp import send_mail

        send_mail(self.sender, to, subject, text, html, message_id)


class ConsoleMailer:
    """No SMTP server: the message goes to the log. In development (``readable``) it is
    printed whole, code and link included, as on the dev outbox page; anywhere else the
    log's secret mask applies."""

    def __init__(self, readable: bool = False) -> None:
        self.readable = readable

    def send(self, to: str, subject: str, text: str, html: str, message_id: str) -> None:
        if self.readable:
            console.info("%s\n", framed(f"Email to {to}", f"Subject: {subject}\n\n{text}"))
        else:
            log.info("email to %s: %s\n%s", to, subject, text)


class ConsoleSms:
    def __init__(self, readable: bool = False) -> None:
        self.readable = readable

    def send(self, to: str, body: str, message_id: str) -> None:
        if self.readable:
            console.info("%s\n", framed(f"SMS to {to}", body))
        else:
            log.info("sms to %s: %s", to, body)


def framed(title: str, body: str) -> str:
    """A message as a block of text between two rules, for a person reading the console."""
    rule = "-" * 72
    return f"{rule}\n{title}\n{rule}\n{body.rstrip()}\n{rule}"


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


# Twilio's errors that say the number itself cannot take this message, whenever it is
# sent: 21211 not a valid phone number, 21610 the recipient answered STOP to this sender,
# 21614 not a number that can receive SMS. (A region not enabled, a trial account's
# unverified number or a number unreachable just now are settings or moments: retried.)
TWILIO_REFUSED_FOR_GOOD = frozenset({21211, 21610, 21614})


class TwilioSms:
    """Twilio's official library (``pip install twilio``), imported only when chosen.

    A refusal in ``TWILIO_REFUSED_FOR_GOOD`` is ``Undeliverable`` (failed at once, not
    sent to Twilio ten more times); any other error is retried."""

    def __init__(self, account_sid: str, auth_token: str, sender: str,
                 http_client: object | None = None) -> None:
        try:
            from twilio.base.exceptions import TwilioRestException  # noqa: PLC0415
            from twilio.http.http_client import TwilioHttpClient  # noqa: PLC0415 - optional
            from twilio.rest import Client  # noqa: PLC0415 - optional dependency
        except ImportError as exc:
            raise RuntimeError("SMS_BACKEND=twilio needs Twilio's library: "
                               "pip install 'webapp[twilio]' (or pip install twilio)") from exc
        # Twilio's client has no timeout by default; a hung request would outlive the lease.
        self.client = Client(account_sid, auth_token,
                             http_client=http_client or TwilioHttpClient(timeout=GATEWAY_TIMEOUT))
        self.sender = sender
        self.refusal = TwilioRestException

    def send(self, to: str, body: str, message_id: str) -> None:
        try:
            self.client.messages.create(to=to, from_=self.sender, body=body)
        except self.refusal as exc:
            if exc.code in TWILIO_REFUSED_FOR_GOOD:
                raise Undeliverable(f"Twilio refused the number for good ({exc.code})",
                                    exc.msg) from exc
            raise
