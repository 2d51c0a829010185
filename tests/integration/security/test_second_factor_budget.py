"""The budget of guesses at an account's second factor, with the limits on (shared
counters): one budget for the account, whatever identifier its password was typed with,
and not handed back by anything short of a proven factor."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp
import pytest

from tests.conftest import PASSWORD
from tests.helpers.app import make_user, set_user_columns

EMAIL = "jane@example.com"
PHONE = "+14155550123"


@pytest.fixture
def limited_app(app_factory):
    return app_factory(RATELIMIT_ENABLED=True)


def login(client, password=PASSWORD, **identifier):
    return client.post("/api/auth/login/", json={**identifier, "password": password})


def turn_on_totp(client, **identifier) -> pyotp.TOTP:
    access = login(client, **identifier).json["tokens"]["access"]
    auth = {"Authorization": f"Bearer {access}"}
    totp = pyotp.TOTP(client.post("/api/auth/mfa/totp/setup/", headers=auth).json["secret"])
    confirmed = client.post("/api/auth/mfa/totp/confirm/", headers=auth,
                            json={"code": totp.now()})
    assert confirmed.status_code == 200, confirmed.json
    return totp


def wrong_codes(client, token: str, count: int) -> list[int]:
    return [client.post("/api/auth/login/mfa/", json={"mfa_token": token, "code": "000000"}
                        ).status_code for _ in range(count)]


def test_wrong_codes_through_the_email_also_hold_the_phone(limited_app):
    user = make_user(limited_app, EMAIL, phone=PHONE)
    set_user_columns(limited_app, user.id, phone_verified_at=datetime.now(UTC))
    client = limited_app.test_client()
    turn_on_totp(client, email=EMAIL)
    pending = login(client, email=EMAIL).json
    assert pending["mfa_required"] is True
    assert wrong_codes(client, pending["mfa_token"], 5) == [400] * 5
    # The same password through the phone number: no fresh budget of codes to guess.
    by_phone = login(client, phone=PHONE)
    assert by_phone.status_code == 429, by_phone.json

