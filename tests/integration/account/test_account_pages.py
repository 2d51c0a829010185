"""The browser pages of changing an address, exporting and deleting (the same services
as the API): /account/email, /account/phone, /account/undo/<token>, /account/export,
/account/delete and /account/delete/cancel/<token>."""

from __future__ import annotations

import json

from tests.conftest import PASSWORD
from tests.helpers.app import audit_rows
from tests.integration.account.conftest import undo_in_browser
from tests.integration.api.conftest import stored_user
from tests.integration.web.conftest import login, scrubbed, submit, text

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
    browser, page, back = undo_in_browser(app, token, NEW_PASSWORD)
    assert "Take your account back" in page
    assert back.status_code == 303 and back.location == "/login"
    assert stored_user(app, email=EMAIL) is not None
    assert client.get("/account").status_code == 302  # the other session ended
    dead = submit(browser, f"/account/undo/{token}",  # the dead page has no form
                  {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
                  page="/login")
    assert dead.status_code == 422 and "This link does not work" in text(dead)


def test_email_change_by_link_page(client, signed_in, outbox, app):
    submit(client, "/account/email", {"new_email": NEW})
    token = outbox.link_token(NEW, "/account/email/confirm/")
    assert "Use this email address" in text(client.get(f"/account/email/confirm/{token}"))
    done = submit(client, f"/account/email/confirm/{token}")
    assert done.status_code == 303
    assert stored_user(app, email=NEW) is not None


def test_a_dead_email_confirm_link_says_so_when_opened(client, signed_in, outbox, app):
    """Superseded by a newer request, or forged: the page says so at once (422, as its
    button would), not a button naming an address it cannot confirm."""
    submit(client, "/account/email", {"new_email": NEW})
    first = outbox.link_token(NEW, "/account/email/confirm/")
    submit(client, "/account/email", {"new_email": "jane.other@example.com"})
    for path in (f"/account/email/confirm/{first}", "/account/email/confirm/not-a-real-token"):
        dead = client.get(path)
        assert dead.status_code == 422, path
        assert "This link does not work" in text(dead)
        assert "Use this email address" not in text(dead)
    live = outbox.link_token("jane.other@example.com", "/account/email/confirm/")
    page = text(client.get(f"/account/email/confirm/{live}"))
    assert "Use this email address" in page and "jane.other@example.com" in page
    assert stored_user(app, email=EMAIL) is not None  # nothing confirmed by opening


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


def test_download_my_data(client, signed_in, app):
    """The account page's button downloads at once; its POST carries the CSRF token."""
    answer = submit(client, "/account/export", page="/account")
    assert answer.status_code == 200
    assert "attachment" in answer.headers["Content-Disposition"]
    assert json.loads(answer.get_data())["addresses"][0]["address"] == EMAIL
    assert len(audit_rows(app, "account_exported")) == 1


def test_following_the_export_link_spends_no_download(client, signed_in, app):
    """A GET (a link followed or prefetched, another site sending the browser here) shows
    what the file holds and the button; it spends none of the hourly downloads."""
    for _ in range(6):  # more than the hourly budget of downloads
        page = client.get("/account/export")
        assert page.status_code == 200 and "Content-Disposition" not in page.headers
        assert "Download my data" in text(page)
    assert audit_rows(app, "account_exported") == []
    assert "attachment" in submit(client, "/account/export").headers["Content-Disposition"]


def test_an_export_post_without_the_csrf_token_is_refused(client, signed_in, app):
    refused = client.post("/account/export", data={})
    assert "Content-Disposition" not in refused.headers
    assert audit_rows(app, "account_exported") == []


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
    again = submit(app.test_client(), f"/account/delete/cancel/{token}", page="/login")
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
        # the CSRF tokens carry the second they were signed in: blanked, with the address
        pages[address] = scrubbed(client.get("/account/email"), address)
    assert pages[NEW] == pages["free@example.com"]
    assert "Confirm IDENTIFIER" in pages[NEW][1]
    templates = [m.payload["template"] for m in outbox.all("email", NEW)]
    assert templates[-1] == "address_taken" and "email_change" not in templates


def test_a_dead_undo_link_says_so_when_opened(client, signed_in, outbox, app):
    """Spent or forged: the page says so at once (422, as /reset/<token>), not after two
    new passwords are typed; opening a live one spends and records nothing."""
    submit(client, "/account/email", {"new_email": NEW})
    submit(client, "/account/email/confirm", {"code": outbox.code("email", NEW)},
           page="/account/email")
    token = outbox.link_token(EMAIL, "/account/undo/")
    events = len(audit_rows(app))
    live = app.test_client().get(f"/account/undo/{token}")
    assert live.status_code == 200 and "Undo the change" in text(live)
    assert len(audit_rows(app)) == events
    undo_in_browser(app, token, NEW_PASSWORD)
    for path in (f"/account/undo/{token}", "/account/undo/not-a-real-token"):
        dead = app.test_client().get(path)
        assert dead.status_code == 422, path
        assert "This link does not work" in text(dead) and "New password" not in text(dead)


def test_a_dead_deletion_cancel_link_says_so_when_opened(client, signed_in, outbox, app):
    submit(client, "/account/delete")
    token = outbox.link_token(EMAIL, "/account/delete/cancel/")
    live = app.test_client().get(f"/account/delete/cancel/{token}")
    assert live.status_code == 200 and "Keep my account" in text(live)
    assert audit_rows(app, "account_delete_cancelled") == []
    assert submit(app.test_client(), f"/account/delete/cancel/{token}").status_code == 303
    for path in (f"/account/delete/cancel/{token}", "/account/delete/cancel/not-a-real-token"):
        dead = app.test_client().get(path)
        assert dead.status_code == 422, path
        assert "This link does not work" in text(dead) and "Keep my account" not in text(dead)
