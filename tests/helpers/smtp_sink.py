"""A real SMTP server on loopback (aiosmtpd) for the delivery tests: it counts greetings
(one per connection) and keeps the messages it took."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from aiosmtpd.controller import Controller

from webapp.infrastructure import smtp


class Sink:
    def __init__(self) -> None:
        self.greetings = 0  # one EHLO per connection
        self.messages: list[bytes] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: ANN001, ANN201, N802
        self.greetings += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        self.messages.append(envelope.content)
        return "250 OK"


@contextmanager
def serving(handler: Sink) -> Iterator[int]:
    """``handler`` listening on a free loopback port (yielded); afterwards this thread's
    kept SMTP connection is closed and the server stopped."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        smtp.close_kept()
        controller.stop()
