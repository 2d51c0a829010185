"""What the delivery thread hands to smtplib (``smtp.WireMessage``) reads back as the same
message Flask-Mail's own ``Message.as_bytes`` writes: the same headers, the same parts
with the same text, CRLF line ends, a subject that starts on its own line, and
boundaries that never occur in the text they separate."""

from __future__ import annotations

import email
import random
import re
import string
from email import policy

import pytest
from flask import Flask
from flask_mail import Mail, Message

from webapp.infrastructure import smtp

HEADERS = ("Subject", "From", "To", "Date", "Message-ID", "X-Outbox-Key", "MIME-Version")

MESSAGES = {
    "plain ascii": {"subject": "Your code", "recipients": ["jane@example.com"],
                    "body": "Your code is 123456.\n", "sender": "noreply@example.com"},
    "two parts, non-ascii, long": {
        "subject": "Vérifiez votre adresse — a subject long enough to be folded over two or "
                   "more lines of the header",
        "recipients": ["joe@exämple.com"],
        "body": "Héllo\nFrom the start of a line\n.\n--not a boundary\n" + "x" * 300 + "\n",
        "html": "<p>Héllo</p>\n<p>From here</p>",
        "sender": "Acme Ünited <noreply@example.com>",
    },
}


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    Mail(app)
    return app


def both(app: Flask, fields: dict[str, object]) -> tuple[bytes, bytes]:
    """Flask-Mail's bytes and ours for one message (same Message-ID and date)."""
    fields = {**fields, "extra_headers": {"X-Outbox-Key": "key-1"}}
    with app.app_context():
        theirs, ours = Message(**fields), smtp.WireMessage(**fields)
        ours.msgId, theirs.date = theirs.msgId, 1_700_000_000
        ours.date = theirs.date
        return theirs.as_bytes(), ours.as_bytes()


def leaves(message: email.message.EmailMessage) -> list[tuple[str, str]]:
    return [(part.get_content_type(), part.get_content())
            for part in message.walk() if not part.is_multipart()]


@pytest.mark.parametrize("name", MESSAGES)
def test_it_reads_back_as_flask_mails_message(app, name):
    theirs, ours = (email.message_from_bytes(raw, policy=policy.default)
                    for raw in both(app, MESSAGES[name]))
    for header in HEADERS:
        assert ours[header] == theirs[header], header
    assert [p.get_content_type() for p in ours.walk()] == \
        [p.get_content_type() for p in theirs.walk()]
    assert leaves(ours) == leaves(theirs)
    assert ours["Subject"] == MESSAGES[name]["subject"]  # no space before it, nothing lost


@pytest.mark.parametrize("name", MESSAGES)
def test_lines_end_in_crlf_and_stay_short(app, name):
    _, raw = both(app, MESSAGES[name])
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    subject = raw.split(b"\r\nSubject:", 1)[1].split(b"\r\n", 1)[0]
    assert subject.strip(), "the subject starts on the Subject: line"


def test_each_multipart_gets_a_boundary_of_its_own(app):
    _, raw = both(app, MESSAGES["two parts, non-ascii, long"])
    boundaries = re.findall(rb'boundary="([^"]+)"', raw)
    assert len(boundaries) == 2 and len(set(boundaries)) == 2
    for boundary in boundaries:
        assert re.fullmatch(rb"=_[0-9a-f]{32}", boundary)
        assert raw.count(b"\r\n--" + boundary + b"--\r\n") == 1  # closed once


def test_a_boundary_found_in_the_text_is_drawn_again(app, monkeypatch):
    taken = "a" * 32
    draws = iter([taken, "b" * 32, "c" * 32])
    monkeypatch.setattr(smtp.secrets, "token_hex", lambda n: next(draws))
    fields = {**MESSAGES["two parts, non-ascii, long"],
              "body": f"a line that names\n--=_{taken}\nthe boundary\n"}
    _, raw = both(app, fields)
    assert b'boundary="=_' + taken.encode() + b'"' not in raw
    parsed = email.message_from_bytes(raw, policy=policy.default)
    text = leaves(parsed)[0][1].replace("\r\n", "\n")  # the wire's line ends
    assert text == fields["body"]


def test_a_header_that_fits_is_written_as_compat32_folds_it():
    plain = policy.compat32.clone(linesep="\r\n")
    rng = random.Random(18)
    alphabet = string.ascii_letters + string.digits + string.punctuation + " \t"
    values = ['text/plain; charset="utf-8"', "1.0", "8bit", "<1.2.3@localhost>", "a  b",
              " leading", "trailing ", "x;y, z", "=?utf-8?q?=C3=9C?= <a@b.example>",
              "x" * 70, "x" * 69 + " y", "tab\there", "line\r\nbreak", "é"]
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
               for _ in range(3000)]
    for value in values:
        for name in ("Subject", "Content-Type", "X-Outbox-Key"):
            if "\r" in value or "\n" in value:
                continue  # Flask-Mail refuses these (has_bad_headers) before writing
            assert smtp._WIRE.fold(name, value) == plain.fold(name, value), (name, value)  # noqa: SLF001


@pytest.mark.parametrize(("sender", "line", "name"), [
    ("Accounts <no-reply@example.com>", b"From: Accounts <no-reply@example.com>", "Accounts"),
    ('"Acme, Inc." <no-reply@example.com>', b'From: "Acme, Inc." <no-reply@example.com>',
     "Acme, Inc."),
    ("Acme \u00dcnited <no-reply@ex\u00e4mple.com>",
     b"From: =?utf-8?q?Acme_=C3=9Cnited?= <no-reply@xn--exmple-cua.com>", "Acme \u00dcnited"),
])
def test_the_senders_name_is_encoded_only_when_it_must_be(app, sender, line, name):
    """Flask-Mail writes a plain ASCII name as an RFC 2047 word (``=?utf-8?q?Accounts?=``),
    which rspamd scores as spam (FROM_EXCESS_QP). Ours: plain, quoted where RFC 5322 needs
    it; a name outside ASCII still encoded, and an IDN domain still as IDNA."""
    theirs, ours = both(app, {**MESSAGES["plain ascii"], "sender": sender})
    assert line in ours.split(b"\r\n")
    [address] = email.message_from_bytes(ours, policy=policy.default)["From"].addresses
    assert (address.display_name, address.username) == (name, "no-reply")
    assert email.message_from_bytes(theirs, policy=policy.default)["From"].addresses == (
        address,)


@pytest.mark.parametrize(("sender", "domain"), [
    ("Accounts <no-reply@example.com>", b"@example.com>"),
    ("no-reply@b\u00fccher.example", b"@xn--bcher-kva.example>"),
])
def test_the_message_id_names_the_senders_domain_not_this_host(app, sender, domain):
    """Not ``socket.getfqdn()`` (Flask-Mail's): a container's id, or an internal name."""
    with app.app_context():
        ids = [smtp.WireMessage(subject="x", recipients=["jane@example.com"], body="b",
                                sender=sender).as_bytes().split(b"\r\nMessage-ID: ")[1]
               .split(b"\r\n")[0] for _ in range(2)]
    assert all(re.fullmatch(rb"<[\w.-]+" + re.escape(domain), found) for found in ids)
    assert ids[0] != ids[1]
