"""A burst of emails goes over one SMTP connection (a real SMTP server on loopback): the
delivery thread keeps its connection a few seconds; one the server closed is replaced
and the message still sent; one idle for longer is ended and a new one opened."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from email import policy

import pytest

from tests.helpers.smtp_sink import Sink, serving
from webapp.infrastructure import smtp


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    with serving(handler) as port:
        yield handler, port


def send(app, n: int) -> None:  # noqa: ANN001
    with app.app_context():
        smtp.send_mail("noreply@example.com", "jane@example.com", f"Hello {n}", f"body {n}",
                       "", f"key-{n}")


def test_a_burst_goes_over_one_connection(app_factory, sink):
    handler, port = sink
    app = app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    for n in range(3):
        send(app, n)
    assert len(handler.messages) == 3 and handler.greetings == 1
    assert b"X-Outbox-Key: key-2" in handler.messages[2]


def test_a_connection_the_server_closed_is_replaced_and_the_message_sent(app_factory, sink):
    handler, port = sink
    app = app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    send(app, 1)
    smtp._kept.connection.host.close()  # noqa: SLF001  (as a server ending an idle session)
    send(app, 2)
    assert len(handler.messages) == 2 and handler.greetings == 2


def test_an_idle_connection_is_not_kept_past_its_time(app_factory, sink, monkeypatch):
    handler, port = sink
    app = app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    send(app, 1)
    monkeypatch.setattr(smtp, "KEEP_FOR", 0.0)
    send(app, 2)
    assert len(handler.messages) == 2 and handler.greetings == 2


def test_another_apps_settings_get_their_own_connection(app_factory, sink):
    handler, port = sink
    send(app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=port), 1)
    send(app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=port), 2)
    assert len(handler.messages) == 2 and handler.greetings == 2


def test_what_the_server_receives_is_written_by_wire_message(app_factory, sink):
    handler, port = sink
    app = app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    with app.app_context():
        smtp.send_mail("noreply@example.com", "jane@example.com", "Vérifiez", "Héllo",
                       "<p>Héllo</p>", "key-9")
    raw = handler.messages[0]
    assert re.search(rb'boundary="=_[0-9a-f]{32}"', raw)  # WireMessage's, not the generator's
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "Vérifiez" and parsed["X-Outbox-Key"] == "key-9"
    assert [p.get_content().strip() for p in parsed.walk() if not p.is_multipart()] == \
        ["Héllo", "<p>Héllo</p>"]


def test_each_email_says_it_was_sent_by_a_program(app_factory, sink):
    """RFC 3834's header (and Exchange's): no out-of-office replies to the sender."""
    handler, port = sink
    app = app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    send(app, 1)
    headers = email.message_from_bytes(handler.messages[0], policy=policy.default)
    assert headers["Auto-Submitted"] == "auto-generated"
    assert headers["X-Auto-Response-Suppress"] == "All"
