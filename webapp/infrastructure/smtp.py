"""Sending one email with Flask-Mail over SMTP, with a timeout on every network operation.

Loaded by ``SmtpMailer.send`` on the first message, not at start-up.
"""

from __future__ import annotations

import smtplib

from flask import current_app
from flask_mail import Connection, Mail, Message

from webapp.infrastructure.timeouts import SMTP_TIMEOUT


def send_mail(sender: str, to: str, subject: str, text: str, html: str,
              message_id: str) -> None:
    message = Message(subject=subject, recipients=[to], body=text, html=html or None,
                      sender=sender, extra_headers={"X-Outbox-Key": message_id})
    with TimedConnection(_state()) as connection:
        message.send(connection)


def _state():  # noqa: ANN202 - flask_mail's private _Mail
    """Flask-Mail's settings for this app (what ``Mail.init_app`` would have stored)."""
    app = current_app
    if "mail" not in app.extensions:
        app.extensions["mail"] = Mail().init_mail(app.config, app.debug, app.testing)
    return app.extensions["mail"]


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
