"""The development console: messages printed whole and readable, Werkzeug's banner without
escape codes; everywhere else the log's mask still applies."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from webapp.infrastructure.log_filter import (
    DEV_CONSOLE,
    ReadableConsoleFilter,
    SecretMaskingFilter,
    install_dev_console,
    mask_text,
)
from webapp.infrastructure.messaging import ConsoleMailer, ConsoleSms

TEXT = ("Hello,\n\nConfirm your email address by opening this link:\n\n"
        "http://localhost:5000/verify/eyJ1aWQiOjF9.axQVZw.FZ9qyYvlSwGxQfsMcrbsbhAKmIE\n\n"
        "Or enter this code: 296451\n")


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What install_dev_console's handlers write, captured."""
    install_dev_console()
    out = io.StringIO()
    handlers = [h for name in ("werkzeug", DEV_CONSOLE) for h in logging.getLogger(name).handlers
                if any(isinstance(f, ReadableConsoleFilter) for f in h.filters)]
    assert len(handlers) == 2
    saved = [h.setStream(out) for h in handlers]  # type: ignore[attr-defined]
    yield out
    for handler, stream in zip(handlers, saved, strict=True):
        handler.setStream(stream)  # type: ignore[attr-defined]


def test_an_email_is_printed_whole_with_its_code_and_link(console):
    ConsoleMailer(readable=True).send("jane@example.com", "Verify your email", TEXT, "", "k")
    printed = console.getvalue()
    assert "Email to jane@example.com\n" in printed and "Subject: Verify your email\n" in printed
    assert "Or enter this code: 296451\n" in printed
    assert "/verify/eyJ1aWQiOjF9.axQVZw.FZ9qyYvlSwGxQfsMcrbsbhAKmIE\n" in printed
    assert "\\n" not in printed


def test_an_sms_is_printed_whole(console):
    ConsoleSms(readable=True).send("+14155550123", "339317 is your code.", "k")
    assert "SMS to +14155550123\n" in console.getvalue()
    assert "339317 is your code." in console.getvalue()


def test_a_control_character_in_a_message_cannot_paint_the_terminal(console):
    ConsoleMailer(readable=True).send("jane@example.com", "Hi", "Name: \x1b]0;pwned\x07", "", "k")
    assert "\x1b" not in console.getvalue() and "\\x1b" in console.getvalue()


def test_werkzeugs_banner_is_plain_text_on_its_own_lines(console):
    logging.getLogger("werkzeug").info(
        "\x1b[31m\x1b[1mWARNING: This is a development server.\x1b[0m\n"
        " * Running on http://127.0.0.1:5000")
    logging.getLogger("werkzeug").info(
        '127.0.0.1 - - "GET /reset/eyJ1aWQiOjF9.axQVZw.FZ9qyYvlSwGxQfsMcrbsbhAKmIE HTTP/1.1" 200')
    printed = console.getvalue()
    assert printed.startswith("WARNING: This is a development server.\n * Running on http")
    assert "\x1b" not in printed and "[31m" not in printed
    assert "FZ9qyYvl" not in printed and "/reset/<jwt ***>" in printed  # requests: masked


def test_outside_development_the_mailer_logs_masked(caplog):
    caplog.handler.addFilter(SecretMaskingFilter())
    with caplog.at_level(logging.INFO, logger="webapp.delivery"):
        ConsoleMailer().send("jane@example.com", "Verify", TEXT, "", "k")
    assert "296451" not in caplog.text and "code: ***" in caplog.text


def test_colour_codes_are_dropped_from_every_log_line():
    assert mask_text("\x1b[33mPress CTRL+C to quit\x1b[0m") == "Press CTRL+C to quit"
