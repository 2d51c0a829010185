"""Sending email with Flask-Mail over SMTP, with a timeout on every network operation.

Loaded by ``SmtpMailer.send`` on the first message, not at start-up.

A burst of messages (a wave of sign-ups, a batch of due retries) goes over one SMTP
connection: the delivery thread keeps its connection for ``KEEP_FOR`` seconds after each
message (far below the 5 minutes RFC 5321 asks servers to wait), so a message that
follows soon skips the TCP handshake, the greeting, EHLO (STARTTLS and AUTH) and QUIT.
A kept connection found closed by the server is replaced at once, and the message sent
on the new one; one kept longer is ended first. Flask-Mail's ``MAIL_MAX_EMAILS`` still
reconnects after that many messages.

A refusal that no retry can change is raised as ``Undeliverable`` (the message is failed
at once instead of being tried ten times): a 5xx reply to ``RCPT TO`` (RFC 5321: "the
SMTP client SHOULD NOT repeat the exact request"), and a recipient with characters
outside ASCII before the @-sign, which needs SMTPUTF8 on every hop (registration refuses
such new addresses; one held from before would fail on every try). A 4xx reply, a
refused sender and a lost connection stay ordinary failures, retried with backoff.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import smtplib
import threading
import time
from email.generator import BytesGenerator
from email.header import Header
from email.policy import Compat32
from email.utils import formataddr, make_msgid, parseaddr
from functools import lru_cache
from typing import Any

from flask import current_app
from flask_mail import Connection, Mail, Message, sanitize_address

from webapp.application.interfaces import Undeliverable
from webapp.infrastructure.timeouts import SMTP_TIMEOUT

KEEP_FOR = 5.0  # seconds an idle connection waits for the next message of its thread
# Every email here is sent by the app, not by a person (RFC 3834): vacation and
# out-of-office responders (and Exchange's, by its own header) do not answer it, so
# the sender's mailbox, often a no-reply one, gets no automatic replies to bounce.
AUTOMATIC = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}


class _Wire(Compat32):
    """compat32 with CRLF line ends (what smtplib sends), writing a header that fits on
    its line as it is: the bytes compat32's folding gives it, without the ``Header``
    object it builds for each of a message's sixteen or so headers to find that out."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if (isinstance(value, str) and value.isascii() and value.isprintable()
                and len(name) + 2 + len(value) <= (self.max_line_length or 78)):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


_WIRE = _Wire(linesep="\r\n", mangle_from_=False)


class WireMessage(Message):
    """Flask-Mail's message, written out without parsing its own headers again.

    Flask-Mail builds the message from the email package's compat32 classes, then sets
    ``policy.SMTP`` to write it. Under that policy the generator hands every header it
    reads back (each part's Content-Type, several times) to the header registry's
    parser, and finds each multipart's boundary by compiling a new regular expression
    over the text of its parts: about a third of what the delivery thread spent on an
    email. Here the same tree is written under compat32 with CRLF line ends (a
    non-ASCII subject as RFC 2047 words, folded to follow ``Subject:``), and each
    multipart's boundary is ``=_`` and 128 random bits, drawn once the text exists and
    checked against it like the generator's own. It reads back as the same message
    (tests/integration/delivery/test_wire_message.py). The sender's name is written as
    ``_from_header`` says.

    The Message-ID names the sender's domain (``<random@example.com>``), as Symfony's
    mailer does, not the host's name that Flask-Mail gets from ``socket.getfqdn()``: in a
    container that is its id, with no dot (rspamd: MID_RHS_NOT_FQDN), elsewhere an
    internal name the recipients need not see."""

    def __init__(self, **fields: Any) -> None:
        super().__init__(**fields)
        self.msgId = make_msgid(domain=_sender_domain(str(self.sender)))

    def as_bytes(self) -> bytes:
        message = self._message()
        message.policy = _WIRE
        message.replace_header("From", _from_header(str(self.sender)))
        if self.subject and not self.subject.isascii():
            # Flask-Mail encoded it for a line of its own; this starts on Subject's line.
            message.replace_header("Subject", Header(self.subject, "utf-8",
                                                     header_name="Subject"))
        texts = [part.get_payload() for part in message.walk() if not part.is_multipart()]
        for part in message.walk():
            if part.is_multipart() and part.get_boundary() is None:
                boundary = "=_" + secrets.token_hex(16)
                while any(boundary in text for text in texts if isinstance(text, str)):
                    boundary = "=_" + secrets.token_hex(16)
                part.set_boundary(boundary)
        out = io.BytesIO()
        BytesGenerator(out, policy=_WIRE).flatten(message)
        return out.getvalue()


@lru_cache(maxsize=8)
def _sender_domain(sender: str) -> str:
    """The domain of ``sender``'s address as it goes on the wire (IDNA)."""
    return parseaddr(_from_header(sender))[1].rpartition("@")[2]


@lru_cache(maxsize=8)
def _from_header(sender: str) -> str:
    """The From header for ``sender`` ("Accounts <no-reply@example.com>").

    Flask-Mail writes every sender's name as an RFC 2047 word, a plain ASCII one too
    (``=?utf-8?q?Accounts?=``), and spam filters count that against the message (rspamd's
    FROM_EXCESS_QP: "quoted-printable is not needed as all symbols are 7bit"). A printable
    ASCII name is written as it is, quoted where RFC 5322 needs it ("Acme, Inc."); any
    other name keeps Flask-Mail's encoding, as does the address (an IDN domain as IDNA)."""
    name = parseaddr(sender)[0]
    sanitized = sanitize_address(sender)
    if not name or not (name.isascii() and name.isprintable()):
        return sanitized
    return formataddr((name, parseaddr(sanitized)[1]))


class TimedConnection(Connection):
    """Flask-Mail's connection with a socket timeout. Flask-Mail opens ``smtplib.SMTP`` without
    one, so a server that accepts and then stays silent would hold the worker for ever."""

    timeout: float = SMTP_TIMEOUT

    def configure_host(self) -> smtplib.SMTP:
        state = self.mail
        factory = smtplib.SMTP_SSL if state.use_ssl else smtplib.SMTP
        host = factory(state.server, state.port, timeout=self.timeout)
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


class _Kept(threading.local):
    """This thread's open connection, the settings it was opened with, when last used."""

    connection: TimedConnection | None = None
    settings: tuple[object, ...] = ()
    used_at: float = 0.0


_kept = _Kept()


def send_mail(sender: str, to: str, subject: str, text: str, html: str,
              message_id: str) -> None:
    if not to.rpartition("@")[0].isascii():
        raise Undeliverable("the address has characters outside ASCII before the @-sign, "
                            "which this mail path cannot carry (no SMTPUTF8)")
    try:
        _send(sender, to, subject, text, html, message_id)
    except smtplib.SMTPRecipientsRefused as exc:
        replies = list(exc.recipients.values())
        if replies and all(500 <= code < 600 for code, _ in replies):
            code, said = replies[0]
            detail = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
            raise Undeliverable(f"the server refused the recipient for good ({code})",
                                detail) from exc
        raise


def _send(sender: str, to: str, subject: str, text: str, html: str, message_id: str) -> None:
    message = WireMessage(subject=subject, recipients=[to], body=text, html=html or None,
                          sender=sender, extra_headers={"X-Outbox-Key": message_id,
                                                        **AUTOMATIC})
    state = _state()
    settings = (id(state), state.server, state.port, state.username, state.password,
                state.use_tls, state.use_ssl)
    connection = _kept.connection
    if connection is not None and (_kept.settings != settings
                                   or time.monotonic() - _kept.used_at > KEEP_FOR):
        close_kept()
        connection = None
    if connection is not None:
        try:
            connection.send(message)
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            # The server ended the kept connection (before taking this message): a new one.
            close_kept()
        except BaseException:
            close_kept()  # a refusal leaves the session in no state worth keeping
            raise
        else:
            _kept.used_at = time.monotonic()
            return
    connection = TimedConnection(state)
    connection.__enter__()  # opens it; closed by close_kept (or replaced) later
    try:
        connection.send(message)
    except BaseException:
        _quit(connection)
        raise
    _kept.connection, _kept.settings, _kept.used_at = connection, settings, time.monotonic()


def close_kept() -> None:
    """End this thread's kept connection, if any (QUIT, or just close if that fails)."""
    connection, _kept.connection = _kept.connection, None
    if connection is not None:
        _quit(connection)


def _quit(connection: TimedConnection) -> None:
    host, connection.host = connection.host, None
    if host is None:
        return
    try:
        host.quit()
    except (smtplib.SMTPException, OSError):
        with contextlib.suppress(OSError):
            host.close()


def _state():  # noqa: ANN202 - flask_mail's private _Mail
    """Flask-Mail's settings for this app (what ``Mail.init_app`` would have stored)."""
    app = current_app
    if "mail" not in app.extensions:
        app.extensions["mail"] = Mail().init_mail(app.config, app.debug, app.testing)
    return app.extensions["mail"]
