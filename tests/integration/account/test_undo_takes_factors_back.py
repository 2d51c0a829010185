"""Taking a hijacked account back through both doors (the API's ``email-change/undo/`` and
the browser's ``/account/undo/<token>``) removes the second factors the hijacker added: a
passkey signs in on its own, an authenticator app locks the owner out. Real relying party
(py_webauthn with a software authenticator), real TOTP, SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pyotp
import pytest

from tests.conftest import PASSWORD
from tests.helpers.app import audit_rows, services
from tests.helpers.webauthn import SoftAuthenticator
from tests.integration.account.conftest import undo_in_browser
from tests.integration.api.conftest import bearer
from tests.integration.web.conftest import flashes, login
from webapp.domain.errors import InvalidToken

EMAIL = "jane@example.com"
THIEF = "thief@example.com"
NEW_PASSWORD = "a completely new passphrase"


@pytest.fixture
def device():
    return SoftAuthenticator(origin="http://testserver")  # the tests' APP_BASE_URL


def _move(client, access, outbox, kind="email", new=THIEF):
    """The hijacker, with a stolen session, moves the account's email (or phone, by SMS)
    to their own."""
    path = "email-change" if kind == "email" else "phone-change"
    asked = client.post(f"/api/auth/{path}/", headers=bearer(access), json={f"new_{kind}": new})
    assert asked.status_code == 202, asked.json
    done = client.post(f"/api/auth/{path}/confirm/", headers=bearer(access),
                       json={"code": outbox.code("email" if kind == "email" else "sms", new)})
    assert done.status_code == 200, done.json


def _enrol(client, access, device):
    options = client.post("/api/auth/passkeys/register/options/", headers=bearer(access))
    created = client.post("/api/auth/passkeys/register/", headers=bearer(access),
                          json={"credential": device.create(options.json), "name": "Thief"})
    assert created.status_code == 201, created.json


def _turn_on_app(client, access):
    setup = client.post("/api/auth/mfa/totp/setup/", headers=bearer(access))
    assert setup.status_code == 200, setup.json
    totp = pyotp.TOTP(setup.json["secret"])
    confirmed = client.post("/api/auth/mfa/totp/confirm/", headers=bearer(access),
                            json={"code": totp.now()})
    assert confirmed.status_code == 200, confirmed.json
    return totp


def _passkey_login(client, device, options=None):
    options = options or client.post("/api/auth/passkeys/login/options/").json
    return client.post("/api/auth/passkeys/login/", json={"credential": device.get(options)})


def _undo_by_api(client, outbox):
    back = client.post("/api/auth/email-change/undo/", json={
        "token": outbox.link_token(EMAIL, "/account/undo/"), "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD})
    assert back.status_code == 200, back.json
    assert "passkey" in back.json["detail"]


def test_api_undo_and_the_hijackers_passkey_signs_in_no_more(app, client, tokens, outbox,
                                                             device):
    _move(client, tokens["access"], outbox)
    _enrol(client, tokens["access"], device)
    assert _passkey_login(client, device).status_code == 200  # both factors on its own
    early = client.post("/api/auth/passkeys/login/options/").json
    _undo_by_api(client, outbox)

    for options in (early, None):
        refused = _passkey_login(client, device, options)
        assert refused.status_code == 400 and refused.json["code"] == "invalid_credential"
    signed_in = client.post("/api/auth/login/", json={"email": EMAIL,
                                                      "password": NEW_PASSWORD})
    assert signed_in.status_code == 200 and "tokens" in signed_in.json, signed_in.json
    status = client.get("/api/auth/mfa/", headers=bearer(signed_in.json["tokens"]["access"]))
    assert status.json == {"totp": False, "passkeys": 0, "recovery_codes_left": 0}
    assert len(audit_rows(app, "mfa_turned_off_by_undo")) == 1
    notice = outbox.last("email", EMAIL)
    assert notice.payload["template"] == "password_changed"
    assert "passkeys" in notice.payload["text"] and "/account/security" in notice.payload["text"]


def test_api_undo_and_the_owner_signs_in_without_the_hijackers_app(client, tokens, outbox):
    _move(client, tokens["access"], outbox)
    totp = _turn_on_app(client, tokens["access"])
    pending = client.post("/api/auth/login/", json={"email": THIEF, "password": PASSWORD})
    assert pending.json["mfa_required"] is True
    mfa_token = pending.json["mfa_token"]
    _undo_by_api(client, outbox)

    signed_in = client.post("/api/auth/login/", json={"email": EMAIL,
                                                      "password": NEW_PASSWORD})
    assert signed_in.status_code == 200, signed_in.json
    assert "mfa_required" not in signed_in.json and signed_in.json["tokens"]["access"]
    # the hijacker's sign-in that waited for the code is dead for every use
    options = client.post("/api/auth/login/mfa/options/", json={"mfa_token": mfa_token})
    assert options.status_code == 400, options.json
    finished = client.post("/api/auth/login/mfa/", json={"mfa_token": mfa_token,
                                                         "code": totp.now()})
    assert finished.status_code == 400, finished.json


def test_browser_undo_takes_the_factors_back_and_says_so(app, client, signed_in, outbox,
                                                         device):
    access = client.post("/api/auth/login/", json={"email": EMAIL, "password": PASSWORD})
    access = access.json["tokens"]["access"]
    _move(client, access, outbox)
    _enrol(client, access, device)
    _turn_on_app(client, access)
    browser, page, back = undo_in_browser(app, outbox.link_token(EMAIL, "/account/undo/"),
                                          NEW_PASSWORD)
    assert "added in the day before the change or since are removed" in page
    assert back.status_code == 303 and back.location == "/login"
    assert "second factors added in the day before the change or since were removed" in (
        flashes(browser)[0])
    assert client.get("/account").status_code == 302  # the hijacker's page session ended

    refused = _passkey_login(client, device)
    assert refused.status_code == 400 and refused.json["code"] == "invalid_credential"
    notice = outbox.last("email", EMAIL)
    assert notice.payload["template"] == "password_changed"
    assert "authenticator app" in notice.payload["text"]
    owner = login(app.test_client(), EMAIL, NEW_PASSWORD)
    assert owner.status_code == 303 and owner.location == "/account"  # no /login/mfa


def test_phone_undo_takes_the_app_back_and_the_text_says_so(client, phone_user, outbox):
    """The same by SMS: the hijacker moves the phone number; the owner's old number gets
    the undo link, and after the undo a text saying the factors went."""
    access = client.post("/api/auth/login/", json={"phone": phone_user, "password": PASSWORD})
    access = access.json["tokens"]["access"]
    _move(client, access, outbox, "phone", "+14155550199")
    _turn_on_app(client, access)
    body = outbox.last("sms", phone_user).payload["body"]
    token = re.search(r"/account/undo/(\S+)", body).group(1)
    back = client.post("/api/auth/email-change/undo/", json={
        "token": token, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert back.status_code == 200, back.json

    notice = outbox.last("sms", phone_user).payload
    assert notice["template"] == "password_changed"
    assert "Second factors added since the day before the change were removed" in notice["body"]
    signed_in = client.post("/api/auth/login/", json={"phone": phone_user,
                                                      "password": NEW_PASSWORD})
    assert signed_in.status_code == 200 and "tokens" in signed_in.json, signed_in.json


def test_a_passkey_registration_under_way_at_the_undo_adds_nothing(app, client, tokens,
                                                                   outbox, device):
    """The API checks the Bearer token before the service locks the account, so a
    registration already past that check when the owner undoes reaches the service after
    the undo: its challenge died with the undo (real repositories), nothing is added."""
    _move(client, tokens["access"], outbox)
    options = client.post("/api/auth/passkeys/register/options/",
                          headers=bearer(tokens["access"])).json
    user_id = client.get("/api/auth/me/", headers=bearer(tokens["access"])).json["id"]
    _undo_by_api(client, outbox)
    with app.app_context(), pytest.raises(InvalidToken):
        services(app).passkeys.register(user_id, device.create(options), "Late")
    with app.app_context():
        assert services(app).passkeys.passkeys(user_id) == []
    assert audit_rows(app, "passkey_refused")[-1].data["reason"] == "unknown_challenge"
