"""The dev outbox page: ``/dev/outbox``.

In development with console mail and SMS (no ``MAIL_SERVER``, ``SMS_BACKEND=console``), the
messages the app queued are listed here whole, with their links and codes, so sign-up,
verification and password reset can be tried without an SMTP server or an SMS gateway.
Everywhere else (production, testing, real backends) every page of it answers 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Response, abort, current_app, make_response, render_template

from webapp.application.delivery import DeliveryService
from webapp.domain.errors import NotFound
from webapp.domain.model import MessageKind, OutboxMessage
from webapp.interface import services

bp = Blueprint("dev", __name__, url_prefix="/dev")

LINK = re.compile(r"https?://[^\s<>\"']+")
CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")
# The HTML part is shown as the recipient's mail client would: styles yes, scripts and
# requests to anywhere no.
HTML_PART_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


@dataclass(frozen=True)
class MessageView:
    id: int
    kind: str
    to: str
    subject: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    text: str
    links: list[str]
    codes: list[str]
    has_html: bool

    @classmethod
    def of(cls, message: OutboxMessage) -> MessageView:
        payload = message.payload
        text = str(payload.get("text") or payload.get("body") or "")
        return cls(
            id=message.id or 0, kind=str(message.kind), to=message.destination,
            subject=str(payload.get("subject", "")), status=str(message.status),
            attempts=message.attempts, last_error=message.last_error or "",
            created_at=message.created_at, sent_at=message.sent_at, text=text,
            links=LINK.findall(text), codes=CODE.findall(text),
            has_html=message.kind == MessageKind.EMAIL and bool(payload.get("html")),
        )


def delivery() -> DeliveryService:
    return services().delivery


@bp.before_request
def _development_only() -> None:
    if not current_app.config["SETTINGS"].dev_outbox_enabled:
        abort(404)


@bp.get("/outbox")
def outbox() -> str:
    """The newest emails and text messages, newest first, with their links and codes."""
    messages = [MessageView.of(m) for m in delivery().recent_messages(limit=50)]
    return render_template("dev/outbox.html", messages=messages)


@bp.get("/outbox/<int:message_id>/html")
def outbox_html(message_id: int) -> Response:
    """One email's HTML part, as sent."""
    try:
        message = delivery().message(message_id)
    except NotFound:
        abort(404)
    html = message.payload.get("html") if message.kind == MessageKind.EMAIL else None
    if not html:
        abort(404)
    response = make_response(html)
    response.headers["Content-Security-Policy"] = HTML_PART_CSP
    response.headers["Cache-Control"] = "no-store"
    return response
