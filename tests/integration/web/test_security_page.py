"""/account/security: set up an authenticator app (QR code, secret as text, a code turns it
on, recovery codes shown once), remove it, make new codes; a recent sign-in first."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from tests.conftest import PASSWORD
from tests.integration.web.conftest import csrf_token, flashes, login, submit, text

EMAIL = "jane@example.com"
SECRET = re.compile(r'id="totp-secret">([A-Z2-7 ]+)<')
CODE = re.compile(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>")


def start_setup(client) -> str:
    """Press "Set up an authenticator app"; the secret the setup page shows."""
    started = submit(client, "/account/security/totp", page="/account/security")
    assert started.status_code == 303 and started.location == "/account/security/totp"
    page = client.get("/account/security/totp")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    return shown_secret(text(page))


def shown_secret(page: str) -> str:
    """The secret as the page shows it for typing (in groups of 4), without the spaces."""
    return SECRET.search(page).group(1).replace(" ", "")


def turn_on(client) -> tuple[pyotp.TOTP, list[str]]:
    app_totp = pyotp.TOTP(start_setup(client))
    done = submit(client, "/account/security/totp/confirm", {"code": app_totp.now()},
                  page="/account/security/totp")
    assert done.status_code == 200, text(done)
    return app_totp, CODE.findall(text(done))


def make_stale(client) -> None:
    with client.session_transaction() as sess:
        sess["auth_time"] = time.time() - 600


def test_the_page_shows_an_app_off_and_offers_to_set_one_up(client, signed_in):
    page = text(client.get("/account/security"))
    assert "Authenticator app" in page and ">Off<" in page
    assert "Set up an authenticator app" in page
    assert 'href="/account/security"' in text(client.get("/account"))  # linked from the nav


def test_setting_up_shows_qr_and_secret_and_a_right_code_shows_ten_codes_once(
        client, signed_in, outbox):
    secret = start_setup(client)
    page = text(client.get("/account/security/totp"))
    assert "<svg" in page and "QR code for your authenticator app" in page
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page
    assert ">On<" not in text(client.get("/account/security"))  # pending until confirmed
    done = submit(client, "/account/security/totp/confirm",
                  {"code": pyotp.TOTP(secret).now()}, page="/account/security/totp")
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    codes = CODE.findall(text(done))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "data-copy-codes" in text(done) and "data-download-codes" in text(done)
    assert "js/recovery-codes.js" in text(done)
    overview = text(client.get("/account/security"))
    assert ">On<" in overview and ">10 left<" in overview
    assert not CODE.search(overview)  # never shown again
    assert client.get("/account/security/totp").status_code == 303  # nothing pending
    assert "authenticator app was turned on" in outbox.last("email", EMAIL).payload["text"]


def test_the_account_page_says_whether_a_second_factor_is_on(client, signed_in):
    assert re.search(r"Second factor: <span[^>]*>off</span> · 0 recovery codes left",
                     text(client.get("/account")))
    turn_on(client)
    account = text(client.get("/account"))
    assert re.search(r"Second factor: <span[^>]*>on</span> · 10 recovery codes left", account)
    assert 'href="/account/security">Manage your second factor' in account


def test_a_wrong_code_keeps_the_setup_on_screen_with_the_error(client, signed_in):
    secret = start_setup(client)
    wrong = submit(client, "/account/security/totp/confirm", {"code": "000000"},
                   page="/account/security/totp")
    assert wrong.status_code == 422
    assert "The code is wrong" in text(wrong) and shown_secret(text(wrong)) == secret
    by_htmx = submit(client, "/account/security/totp/confirm", {"code": "12"},
                     page="/account/security/totp", htmx=True)
    assert by_htmx.status_code == 422
    assert text(by_htmx).lstrip().startswith('<section id="totp-setup"')
    assert "The code is wrong" in text(by_htmx)
    ok = submit(client, "/account/security/totp/confirm", {"code": pyotp.TOTP(secret).now()},
                page="/account/security/totp", htmx=True)
    assert ok.status_code == 200 and text(ok).lstrip().startswith('<section id="recovery-codes"')
    assert len(CODE.findall(text(ok))) == 10


def test_setting_up_needs_a_recent_sign_in(client, signed_in):
    make_stale(client)
    answer = submit(client, "/account/security/totp", page="/account/security")
    assert answer.status_code == 303
    assert answer.location == "/reauthenticate?next=/account/security"
    assert client.get("/account/security/totp").status_code == 303  # no secret was made
    submit(client, "/reauthenticate", {"password": PASSWORD, "next": "/account/security"})
    assert start_setup(client)


def test_only_the_browser_that_started_the_setup_sees_its_secret(app, client, signed_in):
    start_setup(client)
    other = app.test_client()
    login(other, EMAIL)
    shown = other.get("/account/security/totp")
    assert shown.status_code == 303 and shown.location == "/account/security"


def test_removing_the_app_asks_first_and_needs_a_recent_sign_in(client, signed_in, outbox):
    turn_on(client)
    make_stale(client)
    asked = client.get("/account/security/remove")
    assert asked.status_code == 303
    assert asked.location == "/reauthenticate?next=/account/security/remove"
    submit(client, "/reauthenticate", {"password": PASSWORD, "next": "/account/security/remove"})
    confirm = text(client.get("/account/security/remove"))
    assert "Remove the authenticator app?" in confirm and "Yes, remove the app" in confirm
    done = submit(client, "/account/security/remove", page="/account/security/remove")
    assert done.status_code == 303 and done.location == "/account/security"
    assert ">Off<" in text(client.get("/account/security"))
    assert "removed" in outbox.last("email", EMAIL).payload["text"]


def test_removing_with_a_stale_sign_in_changes_nothing(client, signed_in):
    turn_on(client)
    token = csrf_token(client, "/account/security/remove")
    make_stale(client)
    answer = client.post("/account/security/remove", data={"csrf_token": token})
    assert answer.location == "/reauthenticate?next=/account/security/remove"
    assert ">On<" in text(client.get("/account/security"))


def test_new_recovery_codes_kill_the_old_ones(app, client, signed_in):
    app_totp, old = turn_on(client)
    confirm = text(client.get("/account/security/recovery-codes"))
    assert "Make new recovery codes?" in confirm
    done = submit(client, "/account/security/recovery-codes",
                  page="/account/security/recovery-codes")
    new = CODE.findall(text(done))
    assert done.status_code == 200 and len(new) == 10 and not set(new) & set(old)
    browser = app.test_client()
    login(browser, EMAIL)
    refused = submit(browser, "/login/mfa?with=recovery", {"recovery_code": old[0]},
                     page="/login/mfa?with=recovery")
    assert refused.status_code == 422
    taken = submit(browser, "/login/mfa?with=recovery", {"recovery_code": new[0]},
                   page="/login/mfa?with=recovery")
    assert taken.status_code == 303


@pytest.mark.parametrize("path", ["/account/security/remove", "/account/security/recovery-codes"])
def test_nothing_to_remove_or_renew_is_said_not_a_500(client, signed_in, path):
    answer = submit(client, path, page=path)
    assert answer.status_code == 303 and answer.location == "/account/security"
    assert flashes(client) in (["No authenticator app is on."],
                               ["Turn on a second factor first."])


def test_a_second_setup_of_an_app_already_on_is_refused(client, signed_in):
    turn_on(client)
    token = csrf_token(client, "/account/security")
    answer = client.post("/account/security/totp", data={"csrf_token": token})
    assert answer.status_code == 303 and answer.location == "/account/security"
    assert flashes(client) == ["An authenticator app is already on. Remove it first."]


def test_without_a_session_every_security_page_asks_to_log_in(client):
    for path in ("/account/security", "/account/security/totp", "/account/security/remove"):
        assert client.get(path).location.startswith("/login?next=")


def test_the_passkeys_partial_goes_after_the_authenticator_section(client, signed_in):
    page = text(client.get("/account/security"))
    assert page.index('id="totp-title"') < page.index('id="passkeys-title"') \
        < page.index('id="recovery-title"')
    assert 'data-passkey="create"' in page and "Add a passkey" in page
    # adding or removing a passkey from here comes back here
    assert '<input type="hidden" name="next" value="/account/security">' in page


def test_the_new_views_have_a_per_address_limit(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True)
    for endpoint in ("web.security_totp_start", "web.security_totp_confirm",
                     "web.security_totp_remove", "web.security_recovery_codes",
                     "api.mfa_totp_setup", "api.mfa_totp_delete", "api.mfa_recovery_codes"):
        assert getattr(app.view_functions[endpoint], "_ip_limited", False), endpoint


def test_confirming_codes_is_throttled_per_address(app_factory):
    limited = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_CODE="2/minute")
    browser = limited.test_client()
    token = csrf_token(browser, "/login")
    answers = [browser.post("/account/security/totp/confirm", data={"csrf_token": token,
                                                                      "code": "1"}).status_code
               for _ in range(3)]
    assert answers[-1] == 429


def test_a_setup_whose_secret_no_key_opens_any_more_is_started_again_not_a_500(
        app, client, signed_in):
    # SECRET_KEY changed without MFA_ENCRYPTION_KEY (or a key dropped before mfa-reseal):
    # the set-up under way can no longer be shown. The page goes back to where it starts.
    start_setup(client)
    from webapp.extensions import db
    from webapp.infrastructure.orm import TotpDeviceRow

    with app.app_context():
        db.session.execute(db.update(TotpDeviceRow).values(secret="gAAAAAsealed-elsewhere"))
        db.session.commit()
    shown = client.get("/account/security/totp")
    assert shown.status_code == 303 and shown.location == "/account/security"
    assert pyotp.TOTP(start_setup(client)).now()  # a new secret, shown as usual


def test_turning_the_app_on_beside_a_passkey_says_the_codes_saved_before_no_longer_work(
        app, client, signed_in, outbox):
    # A passkey's user who saved recovery codes, then adds an app: the codes that come
    # with it replace the saved ones. The page and the notice said nothing of that, so
    # "I already saved my codes" ended at a sign-in that refused them.
    from tests.helpers.webauthn import SoftAuthenticator
    from tests.integration.web.test_passkeys import add_passkey

    assert add_passkey(client, SoftAuthenticator(origin="http://testserver")).status_code == 303
    saved = CODE.findall(text(submit(client, "/account/security/recovery-codes",
                                     page="/account/security/recovery-codes")))
    assert len(saved) == 10
    app_totp = pyotp.TOTP(start_setup(client))
    done = submit(client, "/account/security/totp/confirm", {"code": app_totp.now()},
                  page="/account/security/totp")
    assert "replace the ones you had: those no longer work" in text(done)
    notice = outbox.last("email", EMAIL).payload["text"]
    assert "authenticator app was turned on" in notice and "no longer work" in notice


def test_turning_the_first_factor_on_says_nothing_of_codes_before(client, signed_in, outbox):
    turn_on(client)
    assert "no longer work" not in outbox.last("email", EMAIL).payload["text"]


def test_removing_the_app_beside_a_passkey_says_the_passkey_and_the_codes_stay(
        client, signed_in):
    # The page said "Signing in will ask only for your password again. Your recovery codes
    # stop working too", and after the removal "asks only for your password now": false
    # while a passkey is left (the second step stays, and so do the codes).
    from tests.helpers.webauthn import SoftAuthenticator
    from tests.integration.web.test_passkeys import add_passkey

    assert add_passkey(client, SoftAuthenticator(origin="http://testserver")).status_code == 303
    turn_on(client)
    confirm = text(client.get("/account/security/remove"))
    assert "still ask for a passkey" in confirm and "recovery codes keep working" in confirm
    assert "only for your password" not in confirm
    removed = submit(client, "/account/security/remove", page="/account/security/remove")
    assert removed.status_code == 303
    said = " ".join(flashes(client))
    assert "asks for a passkey after your password" in said and "only" not in said
