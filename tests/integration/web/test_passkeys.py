"""Passkeys on the browser pages, with the real relying party and the software
authenticator: the forms the script drives (options as JSON, then an ordinary form post),
/account/passkeys (add, list, remove, recent sign-in), /login with a passkey alone,
/login/mfa and /reauthenticate with one; the page's bad answers are 4xx pages."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pyotp
import pytest

from tests.conftest import PASSWORD
from tests.fakes import FakeClock
from tests.helpers.app import audit_rows
from tests.helpers.webauthn import SoftAuthenticator
from tests.integration.web.conftest import csrf_token, flashes, login, submit, text

EMAIL = "jane@example.com"
ORIGIN = "http://testserver"


def options(browser, path, page):
    """What the script does first: POST for the options, the CSRF token in a header."""
    return browser.post(path, headers={"X-CSRFToken": csrf_token(browser, page),
                                       "X-Back": page})


def answer(browser, path, credential, page, **fields):
    """What the script does then: the page's form, its hidden field holding the answer."""
    return submit(browser, path, {"credential": json.dumps(credential), **fields}, page=page)


def add_passkey(browser, device, name="Laptop"):
    offered = options(browser, "/account/passkeys/options", "/account/passkeys")
    assert offered.status_code == 200, offered.json
    return answer(browser, "/account/passkeys", device.create(offered.json),
                  "/account/passkeys", name=name, next="/account/passkeys")


@pytest.fixture
def device():
    return SoftAuthenticator(origin=ORIGIN)


@pytest.fixture
def with_passkey(client, signed_in, device):
    added = add_passkey(client, device)
    assert added.status_code == 303 and added.location == "/account/passkeys"
    return device


def test_the_pages_carry_the_forms_the_script_drives(app, client, signed_in):
    login_page = text(app.test_client().get("/login"))  # a visitor's login page
    assert 'autocomplete="username webauthn"' in login_page
    assert 'data-passkey="get"' in login_page and "data-conditional" in login_page
    assert "Sign in with a passkey" in login_page
    page = text(client.get("/account/passkeys"))
    assert 'data-passkey="create"' in page and "Add a passkey" in page
    assert "No passkeys yet." in page
    assert "<script>" not in page and "js/passkeys.js" in page


def test_add_list_and_remove_a_passkey(app, client, signed_in, device):
    added = add_passkey(client, device, name="Work laptop")
    assert added.status_code == 303
    assert any("Work laptop" in message for message in flashes(client))
    page = text(client.get("/account/passkeys"))
    assert "Work laptop" in page and "not used yet" in page and "Remove" in page
    passkey_id = re.search(r"/account/passkeys/(\d+)/remove", page).group(1)
    removed = submit(client, f"/account/passkeys/{passkey_id}/remove",
                     {"next": "/account/passkeys"}, page="/account/passkeys")
    assert removed.status_code == 303 and removed.location == "/account/passkeys"
    assert "No passkeys yet." in text(client.get("/account/passkeys"))
    assert [r.kind for r in audit_rows(app) if r.kind.startswith("mfa_passkey")] == [
        "mfa_passkey_added", "mfa_passkey_removed"]


def test_adding_or_removing_needs_a_recent_sign_in(app, client, with_passkey):
    page = text(client.get("/account/passkeys"))
    passkey_id = re.search(r"/account/passkeys/(\d+)/remove", page).group(1)
    ports = app.extensions["ports"]
    ports.clock = FakeClock(ports.clock.now() + timedelta(minutes=10))
    offered = options(client, "/account/passkeys/options", "/account/passkeys")
    assert offered.status_code == 403
    assert offered.json["location"] == "/reauthenticate?next=/account/passkeys"
    removed = submit(client, f"/account/passkeys/{passkey_id}/remove",
                     {"next": "/account/passkeys"}, page="/account/passkeys")
    assert removed.status_code == 303
    assert removed.location.startswith("/reauthenticate?next=")


def test_sign_in_with_a_passkey_alone(app, with_passkey):
    browser = app.test_client()
    offered = options(browser, "/login/passkey/options", "/login")
    assert offered.status_code == 200 and offered.json["userVerification"] == "required"
    done = answer(browser, "/login/passkey", with_passkey.get(offered.json), "/login",
                  next="/account/passkeys")
    assert done.status_code == 303 and done.location == "/account/passkeys"
    page = text(browser.get("/account/passkeys"))
    assert "last used" in page


def test_a_bad_passkey_answer_is_a_clear_error_on_the_login_page(app, with_passkey):
    browser = app.test_client()
    offered = options(browser, "/login/passkey/options", "/login")
    credential = with_passkey.get(offered.json)
    assert answer(browser, "/login/passkey", credential, "/login").status_code == 303
    browser = app.test_client()
    replayed = answer(browser, "/login/passkey", credential, "/login")
    assert replayed.status_code == 422
    assert "The passkey could not be verified" in text(replayed)
    nothing = submit(browser, "/login/passkey", {"credential": ""}, page="/login")
    assert nothing.status_code == 422 and "Your browser sent no passkey" in text(nothing)
    junk = submit(browser, "/login/passkey", {"credential": "[1, 2]"}, page="/login")
    assert junk.status_code == 422
    assert browser.get("/account").status_code == 302


def test_a_passkey_as_the_second_step(app, with_passkey):
    browser = app.test_client()
    first = login(browser, EMAIL, PASSWORD, next_="/account/passkeys")
    assert first.status_code == 303 and first.location == "/login/mfa"
    page = text(browser.get("/login/mfa"))
    assert "Use your passkey" in page and 'name="code"' not in page
    offered = options(browser, "/login/mfa/passkey/options", "/login/mfa")
    assert offered.status_code == 200 and offered.json["allowCredentials"]
    done = answer(browser, "/login/mfa/passkey", with_passkey.get(offered.json), "/login/mfa",
                  remember="y")
    assert done.status_code == 303 and done.location == "/account/passkeys"
    assert "trusted_browser=" in " ".join(done.headers.getlist("Set-Cookie"))
    assert browser.get("/account/passkeys").status_code == 200


def test_the_second_step_options_need_a_pending_sign_in(app, with_passkey):
    browser = app.test_client()
    offered = options(browser, "/login/mfa/passkey/options", "/login")
    assert offered.status_code == 400 and offered.json["detail"]


def test_confirm_it_is_you_with_a_passkey(app, client, with_passkey):
    ports = app.extensions["ports"]
    ports.clock = FakeClock(ports.clock.now() + timedelta(minutes=10))
    page = text(client.get("/reauthenticate?next=/account/passkeys"))
    assert "Confirm with a passkey" in page
    offered = options(client, "/reauthenticate/passkey/options", "/reauthenticate")
    done = answer(client, "/reauthenticate/passkey", with_passkey.get(offered.json),
                  "/reauthenticate", next="/account/passkeys")
    assert done.status_code == 303 and done.location == "/account/passkeys"
    assert options(client, "/account/passkeys/options", "/account/passkeys").status_code == 200


def test_options_without_the_csrf_token_are_refused(client):
    assert client.post("/login/passkey/options").status_code == 400


def _notices(app) -> list:
    from tests.conftest import Outbox

    return [m for m in Outbox(app).all("email", EMAIL) if m.payload["template"] == "new_device"]


@pytest.mark.parametrize("step", ["alone", "second"])
def test_a_passkey_sign_in_from_a_new_browser_is_announced_and_known_after(app, with_passkey,
                                                                          step):
    before = len(_notices(app))
    browser = app.test_client()
    for _ in range(2):  # the second time, the same browser (its device cookie) is known
        if step == "alone":
            offered = options(browser, "/login/passkey/options", "/login")
            done = answer(browser, "/login/passkey", with_passkey.get(offered.json), "/login")
        else:
            login(browser, EMAIL, PASSWORD)
            offered = options(browser, "/login/mfa/passkey/options", "/login/mfa")
            done = answer(browser, "/login/mfa/passkey", with_passkey.get(offered.json),
                          "/login/mfa")
        assert done.status_code == 303
        assert browser.get_cookie("device") is not None
        submit(browser, "/logout")
    assert len(_notices(app)) == before + 1


def test_one_dont_ask_again_box_serves_the_passkey_and_the_code(app, client, with_passkey):
    """With a passkey and an authenticator app both on, /login/mfa showed "Don't ask again"
    twice, one box per form. Now once: the code form's (``form=``), which the script copies
    into the passkey form's hidden field."""
    assert submit(client, "/account/security/totp", page="/account/security").status_code == 303
    shown = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', text(client.get("/account/security/totp")))
    assert shown
    code = pyotp.TOTP(shown.group(1).replace(" ", "")).now()
    assert submit(client, "/account/security/totp/confirm", {"code": code},
                  page="/account/security/totp").status_code == 200
    browser = app.test_client()
    login(browser, EMAIL, PASSWORD)
    page = text(browser.get("/login/mfa"))
    assert "Use your passkey" in page and 'name="code"' in page
    assert page.count("ask again on this browser") == 1
    assert re.search(r'<input[^>]*form="code-form"[^>]*name="remember"', page) or re.search(
        r'<input[^>]*name="remember"[^>]*form="code-form"', page)
    assert 'name="remember" value="" data-remember-from="remember"' in page


def test_a_first_passkey_without_recovery_codes_asks_for_them(app, client, signed_in, device):
    # A passkey turns the second step on, but brings no recovery codes (the app does): the
    # security page said "You get 10 recovery codes when you turn on a second factor", then
    # "0 left ... Make new ones before you run out", and nothing asked for any. Losing the
    # passkey then locked the account.
    assert "recovery codes when you turn on the authenticator app" in text(
        client.get("/account/security"))
    add_passkey(client, device)
    assert any("Make recovery codes" in message for message in flashes(client))
    page = text(client.get("/account/security"))
    assert "You have no recovery codes" in page and "before you run out" not in page
    submit(client, "/account/security/recovery-codes", page="/account/security/recovery-codes")
    add_passkey(client, SoftAuthenticator(origin=ORIGIN), name="Phone")
    assert not any("Make recovery codes" in message for message in flashes(client))
    assert "You have no recovery codes" not in text(client.get("/account/security"))


def test_the_second_step_offers_recovery_codes_only_to_an_account_that_has_some(
        app, client, with_passkey):
    # A passkey brings no recovery codes: "Use a recovery code instead" led to a box where
    # every answer was wrong (and counted toward the lockout).
    browser = app.test_client()
    login(browser, EMAIL, PASSWORD)
    assert "Use a recovery code instead" not in text(browser.get("/login/mfa"))
    submit(client, "/account/security/recovery-codes", page="/account/security/recovery-codes")
    browser = app.test_client()
    login(browser, EMAIL, PASSWORD)
    assert "Use a recovery code instead" in text(browser.get("/login/mfa"))
