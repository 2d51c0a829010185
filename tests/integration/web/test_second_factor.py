"""The second factor in the browser: /login then /login/mfa (code, recovery code, a
trusted browser), and /reauthenticate before a sensitive change."""

from __future__ import annotations

import time

import pyotp
import pytest

from tests.conftest import PASSWORD
from tests.helpers.app import audit_rows
from tests.integration.web.conftest import login, submit, text

EMAIL = "jane@example.com"


@pytest.fixture
def totp(app, client, verified_user):
    """An authenticator app on for the verified user (set up through the API)."""
    tokens = client.post("/api/auth/login/", json={"email": EMAIL, "password": PASSWORD}).json
    auth = {"Authorization": f"Bearer {tokens['tokens']['access']}"}
    secret = client.post("/api/auth/mfa/totp/setup/", headers=auth).json["secret"]
    app_totp = pyotp.TOTP(secret)
    codes = client.post("/api/auth/mfa/totp/confirm/", headers=auth,
                        json={"code": app_totp.now()}).json["recovery_codes"]
    return app_totp, codes


def ahead(totp: pyotp.TOTP, steps: int = 1) -> str:
    return totp.at(time.time() + 30 * steps)


def test_a_right_password_leads_to_the_second_step_and_on_to_next(app, totp):
    browser = app.test_client()
    first = login(browser, EMAIL, next_="/account")
    assert first.status_code == 303 and first.location == "/login/mfa"
    assert browser.get("/account").status_code == 302  # not signed in yet
    page = text(browser.get("/login/mfa"))
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page
    assert "Use a recovery code instead" in page
    wrong = submit(browser, "/login/mfa", {"code": "000000"})
    assert wrong.status_code == 422 and "The code is wrong" in text(wrong)
    done = submit(browser, "/login/mfa", {"code": ahead(totp[0])})
    assert done.status_code == 303 and done.location == "/account"
    assert browser.get("/account").status_code == 200
    assert browser.get("/login/mfa").status_code == 302  # nothing pending any more


def test_a_recovery_code_signs_in_from_the_page(app, totp):
    browser = app.test_client()
    login(browser, EMAIL)
    page = text(browser.get("/login/mfa?with=recovery"))
    assert 'name="recovery_code"' in page and 'name="code"' not in page
    done = submit(browser, "/login/mfa?with=recovery", {"recovery_code": totp[1][0]},
                  page="/login/mfa?with=recovery")
    assert done.status_code == 303 and browser.get("/account").status_code == 200


def test_the_second_step_needs_a_pending_sign_in(client):
    assert client.get("/login/mfa").status_code == 302


def test_a_trusted_browser_skips_the_code_for_30_days(app, totp):
    browser = app.test_client()
    login(browser, EMAIL)
    done = submit(browser, "/login/mfa", {"code": ahead(totp[0]), "remember": "y"})
    cookie = next(c for c in done.headers.getlist("Set-Cookie") if "trusted_browser=" in c)
    assert "trusted_browser=" in cookie and "HttpOnly" in cookie and "Max-Age=2592000" in cookie
    with browser.session_transaction() as sess:  # signed out (the cookie jar stays)
        sess.clear()
    again = login(browser, EMAIL)
    assert again.status_code == 303 and again.location == "/account"  # no second step
    stranger = app.test_client()
    assert login(stranger, EMAIL).location == "/login/mfa"  # another browser is asked


def test_changing_the_password_needs_a_recent_sign_in(app, client, verified_user):
    login(client, EMAIL)
    with client.session_transaction() as sess:
        sess["auth_time"] = time.time() - 600
    answer = submit(client, "/account/password", {
        "current_password": PASSWORD, "new_password": "another long passphrase",
        "confirm_password": "another long passphrase"}, page="/account")
    assert answer.status_code == 303
    assert answer.location.startswith("/reauthenticate?next=")
    wrong = submit(client, "/reauthenticate", {"password": "not it at all", "next": "/account"})
    assert wrong.status_code == 422 and "The current password is wrong." in text(wrong)
    ok = submit(client, "/reauthenticate", {"password": PASSWORD, "next": "/account"})
    assert ok.status_code == 303 and ok.location == "/account"
    changed = submit(client, "/account/password", {
        "current_password": PASSWORD, "new_password": "another long passphrase",
        "confirm_password": "another long passphrase"}, page="/account")
    assert changed.status_code == 303 and changed.location == "/account"


def test_reauthenticating_with_a_code(app, client, totp):
    login(client, EMAIL)
    assert submit(client, "/login/mfa", {"code": ahead(totp[0])}).status_code == 303
    with app.app_context(), app.extensions["ports"].uow() as uow:
        device = uow.totp.for_user(1)  # as if that code were ten minutes old
        device.last_step -= 20
        uow.totp.save(device)
        uow.commit()
    with client.session_transaction() as sess:
        sess["auth_time"] = time.time() - 600
    page = text(client.get("/reauthenticate?next=/account"))
    assert 'name="code"' in page
    ok = submit(client, "/reauthenticate", {"code": ahead(totp[0], 0), "next": "/account"},
                page="/reauthenticate?next=/account")
    assert ok.status_code == 303, text(ok)
    with client.session_transaction() as sess:
        assert time.time() - sess["auth_time"] < 60


@pytest.mark.parametrize("path", ["/login/mfa", "/login/mfa?with=recovery"])
def test_an_empty_code_box_is_asked_for_again_not_counted_as_a_wrong_code(app, totp, path):
    # The page sends its form without the browser's own check (novalidate): a press of
    # Continue before typing spent one of the sign-in's 5 tries and a lockout count, and
    # said "the code is wrong". The API answers an empty body so; the page now does too.
    browser = app.test_client()
    login(browser, EMAIL)
    for _ in range(5):
        empty = submit(browser, path, {"code": "  ", "recovery_code": ""}, page=path)
        assert empty.status_code == 422 and "Enter " in text(empty)
        assert "The code is wrong" not in text(empty)
    assert not audit_rows(app, "authn_mfa_fail")
    done = submit(browser, "/login/mfa", {"code": ahead(totp[0])})
    assert done.status_code == 303 and browser.get("/account").status_code == 200


def test_reauthenticating_with_nothing_typed_is_asked_for_again(app, client, totp):
    login(client, EMAIL)
    assert submit(client, "/login/mfa", {"code": ahead(totp[0])}).status_code == 303
    empty = submit(client, "/reauthenticate", {"password": "", "code": "", "next": "/account"},
                   page="/reauthenticate?next=/account")
    assert empty.status_code == 422 and "Enter your password, or a code" in text(empty)
    assert not audit_rows(app, "authn_reauth_fail")


def test_a_sign_in_ended_by_five_wrong_codes_says_to_sign_in_again(app, totp):
    # After 5 wrong codes (or 5 minutes) the page kept answering "the code is wrong ...
    # request a new code" to every right code: an app has no code to request, and no code
    # could help any more. It now says the sign-in has ended and to sign in again.
    browser = app.test_client()
    login(browser, EMAIL)
    for _ in range(5):
        assert submit(browser, "/login/mfa", {"code": "000000"}).status_code == 422
    ended = text(submit(browser, "/login/mfa", {"code": ahead(totp[0])}))
    assert "This sign-in has ended" in ended and "Sign in again" in ended
    assert "request a new code" not in ended


def test_the_api_says_a_spent_mfa_token_has_ended(client, totp):
    first = client.post("/api/auth/login/", json={"email": EMAIL, "password": PASSWORD}).json
    body = {"mfa_token": first["mfa_token"], "code": ahead(totp[0])}
    assert client.post("/api/auth/login/mfa/", json=body).status_code == 200
    again = client.post("/api/auth/login/mfa/", json={**body, "code": ahead(totp[0], 2)})
    assert again.status_code == 400 and again.json["code"] == "invalid_code"
    assert again.json["detail"].startswith("This sign-in has ended")


def test_a_wrong_recovery_code_is_said_at_the_recovery_code_box(app, totp):
    # The refusal was put on the 6-digit code's field, which the recovery page does not
    # show: a wrong recovery code came back as the same page, silently.
    browser = app.test_client()
    login(browser, EMAIL)
    path = "/login/mfa?with=recovery"
    wrong = submit(browser, path, {"recovery_code": "aaaaa-bbbbb"}, page=path)
    assert wrong.status_code == 422
    assert 'id="recovery_code-error"' in text(wrong) and "The code is wrong" in text(wrong)


@pytest.mark.parametrize(("path", "field"), [("/login/mfa", "code"),
                                             ("/login/mfa?with=recovery", "recovery_code")])
def test_a_wrong_second_factor_does_not_say_to_request_a_new_code(app, totp, path, field):
    # The answer was the emailed codes' "Check it, or request a new code": there is none
    # to request from an authenticator app or a sheet of recovery codes.
    browser = app.test_client()
    login(browser, EMAIL)
    wrong = text(submit(browser, path, {field: "000000" if field == "code" else "aaaaa-bbbbb"},
                        page=path))
    assert "The code is wrong" in wrong and "works once" in wrong
    assert "request a new code" not in wrong
