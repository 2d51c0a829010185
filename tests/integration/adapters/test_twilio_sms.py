"""SMS_BACKEND=twilio: the adapter sends through Twilio's official library.

Twilio's client is given a recording HTTP client (its own extension point), so
the test sees the exact request the library would send, without a network.
"""

from __future__ import annotations

import json
import logging

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.http.response import Response

from webapp.application.interfaces import Undeliverable
from webapp.infrastructure.messaging import TwilioSms


class RecordingHttpClient(HttpClient):
    """Answers ``status``; with ``error`` (a Twilio error code), Twilio's error body."""

    def __init__(self, status: int = 201, error: int | None = None) -> None:
        super().__init__(logging.getLogger("twilio.test"), is_async=False)
        self.status = status
        self.error = error
        self.requests: list[dict] = []

    def request(self, method, url, params=None, data=None, headers=None, auth=None,  # noqa: ANN001, ANN201
                timeout=None, allow_redirects=False):
        self.requests.append({"method": method, "url": url, "data": dict(data or {}),
                              "auth": auth})
        body = {"sid": "SM123", "status": "queued", "to": data["To"], "from": data["From"],
                "body": data["Body"]}
        if self.error is not None:
            body = {"code": self.error, "status": self.status,
                    "message": f"The 'To' number {data['To']} is not a valid phone number.",
                    "more_info": f"https://www.twilio.com/docs/errors/{self.error}"}
        return Response(self.status, json.dumps(body))


def test_sends_to_from_and_body_to_the_messages_resource():
    http = RecordingHttpClient()
    sms = TwilioSms("AC123", "auth-token", "+15005550006", http_client=http)

    sms.send("+14155550123", "123456 is your code", "outbox-7")

    (sent,) = http.requests
    assert sent["method"] == "POST"
    assert sent["url"] == "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"
    assert sent["data"] == {"To": "+14155550123", "From": "+15005550006",
                            "Body": "123456 is your code"}
    assert sent["auth"] == ("AC123", "auth-token")


def test_a_refusal_raises_so_delivery_retries_it():
    sms = TwilioSms("AC123", "auth-token", "+15005550006",
                    http_client=RecordingHttpClient(status=500))
    with pytest.raises(Exception):  # noqa: B017 - any error makes the outbox retry
        sms.send("+14155550123", "123456 is your code", "outbox-8")


@pytest.mark.parametrize("code", [21211, 21610, 21614])
def test_a_number_twilio_refuses_for_good_is_undeliverable(code):
    sms = TwilioSms("AC123", "auth-token", "+15005550006",
                    http_client=RecordingHttpClient(status=400, error=code))
    with pytest.raises(Undeliverable) as refused:
        sms.send("+14155550123", "123456 is your code", "outbox-9")
    assert refused.value.reason == f"Twilio refused the number for good ({code})"
    assert "+14155550123" not in refused.value.reason  # the log line has no number
    assert "is not a valid phone number" in str(refused.value)  # staff see Twilio's words


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (400, 21408), (500, 20500)])
def test_a_refusal_that_may_pass_later_is_not_undeliverable(status, code):
    """Too many requests, a region not enabled (a setting), Twilio's own trouble."""
    sms = TwilioSms("AC123", "auth-token", "+15005550006",
                    http_client=RecordingHttpClient(status=status, error=code))
    with pytest.raises(TwilioRestException) as refused:
        sms.send("+14155550123", "123456 is your code", "outbox-10")
    assert refused.value.code == code


def test_without_the_library_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "twilio.rest", None)
    with pytest.raises(RuntimeError, match="pip install"):
        TwilioSms("AC123", "auth-token", "+15005550006")
