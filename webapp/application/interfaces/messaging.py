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


class Mailer(Protocol):
    def send(self, to: str, subject: str, text: str, html: str, message_id: str) -> None:
        """Deliver now or raise; ``message_id`` is stable across retries."""
        ...


class SmsSender(Protocol):
    def send(self, to: str, body: str, message_id: str) -> None: ...
