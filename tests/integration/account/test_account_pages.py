"""The browser pages of changing an address, exporting and deleting (the same services
as the API): /account/email, /account/phone, /account/undo/<token>, /account/export,
/account/delete and /account/delete/cancel/<token>."""

from __future__ import annotations

import json
import re

from tests.conftest import PASSWORD
from tests.integration.api.conftest import stored_user
from tests.integration.web.conftest import login, submit, text

EMAIL = "jane@example.com"
NEW = "jane.new@example.com"
NEW_PASSWORD = "a completely new passphrase"


def test_email_change_by_code_then_undo(client, signed_in, outbox, app):
    asked = submit(client, "/account/email", {"new_email": NEW})
    assert asked.status_code == 303 and asked.location == "/account/email"
    page = text(client.get("/account/email"))
    assert f"Confirm {NEW}" in page
    done = submit(client, "/account/email/confirm", {"code": outbox.code("email", NEW)},
                  page="/account/email")
    assert done.status_code == 303
    assert stored_user(app, email=NEW) is not None
    token = outbox.link_token(EMAIL, "/account/undo/")
    browser = app.test_client()  # the old mailbox's owner, not signed in
    assert "Take your account back" in text(browser.get(f"/account/undo/{token}"))
    back = submit(browser, f"/account/undo/{token}",
                  {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert back.status_code == 303 and back.location == "/login"
    assert stored_user(app, email=EMAIL) is not None
    assert client.get("/account").status_code == 302  # the other session ended
    dead = submit(browser, f"/account/undo/{token}",
                  {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert dead.status_code == 422 and "This link does not work" in text(dead)


def test_email_change_by_link_page(client, signed_in, outbox, app):
    submit(client, "/account/email", {"new_email": NEW})
    token = outbox.link_token(NEW, "/account/email/confirm/")
    assert "Use this email address" in text(client.get(f"/account/email/confirm/{token}"))
    done = submit(client, f"/account/email/confirm/{token}")
    assert done.status_code == 303
    assert stored_user(app, email=NEW) is not None


def test_bad_addresses_and_codes_are_shown_on_the_form(client, signed_in):
    bad = submit(client, "/account/email", {"new_email": "nope"})
    assert bad.status_code == 422 and "valid email address" in text(bad)
    same = submit(client, "/account/email", {"new_email": EMAIL})
    assert same.status_code == 422 and "already your address" in text(same)
    submit(client, "/account/email", {"new_email": NEW})
    wrong = submit(client, "/account/email/confirm", {"code": "000000"}, page="/account/email")
    assert wrong.status_code == 422 and "wrong or no longer valid" in text(wrong)


def test_a_stale_sign_in_is_asked_again(clock, client, signed_in):
    clock.advance(minutes=6)
    asked = submit(client, "/account/email", {"new_email": NEW})
    assert asked.status_code == 303 and asked.location.startswith("/reauthenticate")
    export = client.get("/account/export")
    assert export.status_code == 303 and "/reauthenticate" in export.location


def test_phone_page_adds_a_phone(client, signed_in, outbox, app):
    phone = "+14155550199"
    submit(client, "/account/phone", {"new_phone": phone})
    done = submit(client, "/account/phone/confirm", {"code": outbox.code("sms", phone)},
                  page="/account/phone")
    assert done.status_code == 303
    assert stored_user(app, email=EMAIL).phone == phone


def test_download_my_data(client, signed_in):
    assert "Download my data" in text(client.get("/account"))
    answer = client.get("/account/export")
    assert answer.status_code == 200
    assert "attachment" in answer.headers["Content-Disposition"]
    assert json.loads(answer.get_data())["addresses"][0]["address"] == EMAIL


def test_delete_page_says_what_happens_then_cancel(client, signed_in, outbox, app):
    page = text(client.get("/account/delete"))
    assert "In 7 days" in page and "Stripe" in page and "Delete my account" in page
    gone = submit(client, "/account/delete")
    assert gone.status_code == 303 and gone.location == "/login"
    assert client.get("/account").status_code == 302
    refused = login(app.test_client(), EMAIL)
    assert refused.status_code == 422
    token = outbox.link_token(EMAIL, "/account/delete/cancel/")
    browser = app.test_client()
    kept = submit(browser, f"/account/delete/cancel/{token}")
    assert kept.status_code == 303
    assert login(browser, EMAIL, PASSWORD).status_code == 303
    again = submit(app.test_client(), f"/account/delete/cancel/{token}")
    assert again.status_code == 422 and "does not work" in text(again)


def test_the_page_after_asking_does_not_tell_whether_the_address_is_taken(client, signed_in,
                                                                          register, outbox):
    """A taken address and a free one look the same afterwards too: both are waiting for
    their code (the taken one's never comes: its owner is told someone tried)."""
    register(NEW)
    pages = {}
    for address in (NEW, "free@example.com"):
        asked = submit(client, "/account/email", {"new_email": address})
        assert asked.status_code == 303 and asked.location == "/account/email"
        page = text(client.get("/account/email")).replace(address, "ADDRESS")
        # A CSRF token carries the second it was made in: two pages may differ by it alone.
        pages[address] = re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "CSRF", page)
    assert pages[NEW] == pages["free@example.com"]
    assert "Confirm ADDRESS" in pages[NEW]
    templates = [m.payload["template"] for m in outbox.all("email", NEW)]
    assert templates[-1] == "address_taken" and "email_change" not in templates
