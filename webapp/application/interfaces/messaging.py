"""Rendering and sending messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str = ""


class MessageRenderer(Protocol):
    def render(self, template: str, context: dict[str, Any]) -> RenderedMessage: ...


class Undeliverable(Exception):
    """The gateway refused this message for good: trying again cannot succeed.

    For email, the receiving server answered a 5xx reply for the recipient (RFC 5321,
    4.2.1: a permanent failure, which a client SHOULD NOT repeat as it was), or the
    address cannot be carried at all; for SMS, Twilio said the number cannot take it
    (invalid, unsubscribed, not SMS-capable). ``reason`` says which, without the address;
    ``str()`` adds what the gateway said (for staff, on the queue page)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class Mailer(Protocol):
    def send(self, to: str, subject: str, text: str, html: str, message_id: str) -> None:
        """Deliver now or raise; ``message_id`` is stable across retries. Raises
        ``Undeliverable`` when no retry can succeed; anything else is tried again."""
        ...


class SmsSender(Protocol):
    def send(self, to: str, body: str, message_id: str) -> None:
        """Deliver now or raise, as ``Mailer.send`` (``Undeliverable`` included)."""
        ...
