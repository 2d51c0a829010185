"""A one-off command's messages leave with it (DELIVERY=inline): the process lets its
delivery thread send them before it exits."""

from __future__ import annotations

import asyncio
import sqlite3

from tests.helpers.smtp_sink import Sink, serving


class SlowSink(Sink):
    """Takes a while over each message: longer than the command takes to finish."""

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        await asyncio.sleep(1)
        return await super().handle_DATA(server, session, envelope)


def test_an_invitation_from_the_command_line_is_sent_before_the_command_ends(
        flask_command, tmp_path):
    sink = SlowSink()
    with serving(sink) as port:
        done = flask_command("users", "invite", "new@example.com", DELIVERY="inline",
                             MAIL_SERVER="127.0.0.1", MAIL_PORT=str(port))
        assert done.returncode == 0, done.stderr
        assert len(sink.messages) == 1 and b"new@example.com" in sink.messages[0]
    database = sqlite3.connect(tmp_path / "cli.db")
    try:
        assert database.execute("SELECT status FROM outbox").fetchall() == [("sent",)]
    finally:
        database.close()
