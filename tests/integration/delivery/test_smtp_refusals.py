"""What a real SMTP server refuses: for good (5xx to RCPT TO, an address the path cannot
carry) the message is failed at once; for now (4xx) it is retried with backoff."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from tests.conftest import PASSWORD
from tests.helpers.smtp_sink import Sink, serving
from webapp.application.interfaces import Undeliverable
from webapp.domain.model import MessageStatus, OutboxMessage
from webapp.infrastructure import smtp
from webapp.interface import services

NO_SUCH_USER = "nobody@example.com"
MAILBOX_BUSY = "busy@example.com"


class RefusingSink(Sink):
    """Takes mail for any address but two: one it does not know (550), one it cannot take
    just now (450)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        if address == NO_SUCH_USER:
            return "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"
        if address == MAILBOX_BUSY:
            return "450 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def sink() -> Iterator[tuple[RefusingSink, int]]:
    handler = RefusingSink()
    with serving(handler) as port:
        yield handler, port


def send(app, to: str) -> None:  # noqa: ANN001
    with app.app_context():
        smtp.send_mail("noreply@example.com", to, "Hello", "body", "", "key-1")


def register_and_deliver(app, email: str) -> OutboxMessage:  # noqa: ANN001
    """Registers ``email``, delivers what is due once, and returns the verification email
    as the outbox holds it then (after checking that a second round sends nothing)."""
    response = app.test_client().post("/api/auth/register/", json={
        "email": email, "password": PASSWORD})
    assert response.status_code == 201
    with app.app_context():
        delivery = services().delivery
        assert delivery.deliver_due("w1") == 1
        [message] = delivery.recent_messages()
        assert delivery.deliver_due("w1") == 0  # failed, or waiting for its backoff
    return message


def test_a_5xx_for_the_recipient_is_undeliverable_with_the_servers_words(app_factory, sink):
    handler, port = sink
    app = app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    with pytest.raises(Undeliverable) as refused:
        send(app, NO_SUCH_USER)
    assert refused.value.reason == "the server refused the recipient for good (550)"
    assert "User unknown" in str(refused.value) and NO_SUCH_USER not in refused.value.reason
    send(app, "jane@example.com")  # the next message goes out as usual
    assert len(handler.messages) == 1


def test_a_4xx_for_the_recipient_stays_an_ordinary_failure_and_is_retried(app_factory, sink):
    handler, port = sink
    app = app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(app, MAILBOX_BUSY)
    message = register_and_deliver(app, MAILBOX_BUSY)
    assert (message.status, message.attempts) == (MessageStatus.PENDING, 1)
    assert (message.last_error or "").startswith("SMTPRecipientsRefused")
    assert handler.messages == []


def test_a_non_ascii_local_part_is_undeliverable_without_a_connection(app_factory, sink):
    handler, port = sink
    app = app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    with pytest.raises(Undeliverable, match="outside ASCII before the @-sign"):
        send(app, "josé@example.com")
    assert handler.greetings == 0
    send(app, "jose@bücher.example")  # a domain in any script is fine (sent as IDNA)
    assert len(handler.messages) == 1


def test_a_registration_the_server_refuses_is_failed_after_one_try(app_factory, sink):
    """Through the app: the verification email to an address the server does not know is
    failed at once (staff see why on the queue page), not retried ten times."""
    handler, port = sink
    app = app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    message = register_and_deliver(app, NO_SUCH_USER)
    assert (message.status, message.attempts) == (MessageStatus.FAILED, 1)
    assert "refused the recipient for good (550)" in (message.last_error or "")
    assert handler.messages == []
