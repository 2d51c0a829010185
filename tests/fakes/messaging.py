"""Fakes of the message ports: rendering, mail, SMS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webapp.application.interfaces import RenderedMessage, Undeliverable


class FakeRenderer:
    """Subject = template name; text = the context as ``key=value`` lines (codes, links)."""

    def render(self, template: str, context: dict[str, Any]) -> RenderedMessage:
        lines = [f"{k}={v}" for k, v in sorted(context.items()) if k not in ("user",)]
        return RenderedMessage(subject=template, text="\n".join(lines), html="")


class FakeMailer:
    """``fail_times`` makes the next sends fail; ``before_send`` runs first (a slow gateway);
    an address in ``refused`` is refused for good (a server's 550)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []
        self.fail_times = 0
        self.before_send: Callable[[], None] | None = None
        self.refused: set[str] = set()

    def send(self, to: str, subject: str, text: str, html: str, message_id: str) -> None:
        if self.before_send is not None:
            hook, self.before_send = self.before_send, None
            hook()
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionRefusedError("smtp down")
        if to in self.refused:
            raise Undeliverable("the server refused the recipient for good (550)",
                                f"5.1.1 <{to}>: no such user")
        self.sent.append({"to": to, "subject": subject, "text": text, "id": message_id})


class FakeSms:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []
        self.fail_times = 0

    def send(self, to: str, body: str, message_id: str) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise TimeoutError("sms gateway timed out")
        self.sent.append({"to": to, "body": body, "id": message_id})
