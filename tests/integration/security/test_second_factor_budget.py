"""The budget of guesses at an account's second factor, with the limits on (shared
counters): one budget for the account, whatever identifier its password was typed with,
and not handed back by anything short of a proven factor (or the factor's removal)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pyotp
import pytest

from tests.conftest import PASSWORD, Outbox
from tests.helpers.app import make_user, ports, set_user_columns

EMAIL = "jane@example.com"
PHONE = "+14155550123"
NEW = "a completely new passphrase"


@pytest.fixture
def limited_app(app_factory):
    return app_factory(RATELIMIT_ENABLED=True)


def login(client, password=PASSWORD, **identifier):
    return client.post("/api/auth/login/", json={**identifier, "password": password})


def turn_on_totp(client, **identifier) -> tuple[pyotp.TOTP, list[str]]:
    """The authenticator app on: the app, and the recovery codes."""
    access = login(client, **identifier).json["tokens"]["access"]
    auth = {"Authorization": f"Bearer {access}"}
    totp = pyotp.TOTP(client.post("/api/auth/mfa/totp/setup/", headers=auth).json["secret"])
    confirmed = client.post("/api/auth/mfa/totp/confirm/", headers=auth,
                            json={"code": totp.now()})
    assert confirmed.status_code == 200, confirmed.json
    return totp, confirmed.json["recovery_codes"]


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


def test_a_password_reset_does_not_give_back_the_guesses_at_the_code(limited_app):
    make_user(limited_app, EMAIL)
    client = limited_app.test_client()
    totp, _ = turn_on_totp(client, email=EMAIL)
    token = login(client, email=EMAIL).json["mfa_token"]
    assert wrong_codes(client, token, 5) == [400] * 5
    # Whoever reads the mailbox can reset the password: that proves no second factor.
    assert client.post("/api/auth/password-reset/", json={"email": EMAIL}).status_code == 202
    link = Outbox(limited_app).link_token(EMAIL, "/reset/")
    reset = client.post("/api/auth/password-reset/confirm/", json={
        "token": link, "new_password": NEW, "confirm_password": NEW})
    assert reset.status_code == 200, reset.json
    assert login(client, NEW, email=EMAIL).status_code == 429
    # ... and a proven factor, once the lock is over, still signs in.
    with limited_app.app_context():  # the counters may live in the app's database
        ports(limited_app).throttle.forget_failures(EMAIL)
    pending = login(client, NEW, email=EMAIL).json
    done = client.post("/api/auth/login/mfa/", json={
        "mfa_token": pending["mfa_token"], "code": totp.at(time.time() + 30)})
    assert done.status_code == 200, done.json


def test_taking_an_address_change_back_takes_the_factor_and_its_lock_away(limited_app):
    make_user(limited_app, EMAIL)
    client = limited_app.test_client()
    _, codes = turn_on_totp(client, email=EMAIL)
    pending = login(client, email=EMAIL).json
    access = client.post("/api/auth/login/mfa/", json={
        "mfa_token": pending["mfa_token"], "recovery_code": codes[0]}).json["tokens"]["access"]
    token = login(client, email=EMAIL).json["mfa_token"]
    assert wrong_codes(client, token, 5) == [400] * 5
    auth = {"Authorization": f"Bearer {access}"}
    new_address = "jane.new@example.com"
    assert client.post("/api/auth/email-change/", headers=auth,
                       json={"new_email": new_address}).status_code == 202
    code = Outbox(limited_app).code("email", new_address)
    assert client.post("/api/auth/email-change/confirm/", headers=auth,
                       json={"code": code}).status_code == 200
    # The link sent to the previous address brings it back with a new password and removes
    # every second factor (a hijacker's would outlive the undo): no factor is left whose
    # guesses the lock counted, so it goes, as after a reset of an account without one.
    undo = Outbox(limited_app).link_token(EMAIL, "/account/undo/")
    back = client.post("/api/auth/email-change/undo/", json={
        "token": undo, "new_password": NEW, "confirm_password": NEW})
    assert back.status_code == 200, back.json
    signed_in = login(client, NEW, email=EMAIL)
    assert signed_in.status_code == 200 and "tokens" in signed_in.json, signed_in.json


@pytest.mark.parametrize("proof", [{"password": PASSWORD}, {"code": "123456"}])
def test_a_refused_re_authentication_leaves_the_other_address_free(limited_app, proof):
    user = make_user(limited_app, EMAIL, phone=PHONE)
    set_user_columns(limited_app, user.id, phone_verified_at=datetime.now(UTC))
    client = limited_app.test_client()
    access = login(client, email=EMAIL).json["tokens"]["access"]
    # Anyone can lock the phone number with wrong passwords.
    assert [login(client, "wrong password guess", phone=PHONE).status_code
            for _ in range(5)] == [401] * 5
    refused = client.post("/api/auth/reauthenticate/", json=proof,
                          headers={"Authorization": f"Bearer {access}"})
    assert refused.status_code == 429
    # The email's check slot was taken before the phone's refused: it is given back.
    assert login(client, email=EMAIL).status_code == 200
