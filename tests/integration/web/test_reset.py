"""Password reset pages: request, by code, by the emailed link."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from itsdangerous import TimestampSigner

from tests.conftest import PASSWORD
from tests.integration.web.conftest import flashes, login, scrubbed, signup, submit, text
from webapp.application.common import INVALID_CODE

NEW = "a brand new passphrase"


def request_reset(client, identifier="jane@example.com"):
    return submit(client, "/reset", {"identifier": identifier})


def test_request_answers_the_same_for_known_and_unknown_addresses(client, verified_user,
                                                                  outbox):
    known = request_reset(client)
    known_flash = flashes(client)
    client.get("/reset/code")
    unknown = request_reset(client, "nobody@example.com")
    assert (known.status_code, known.headers["Location"]) == (
        unknown.status_code, unknown.headers["Location"]) == (303, "/reset/code")
    assert known_flash == flashes(client)
    assert outbox.last("email", "jane@example.com").payload["template"] == "reset"
    assert not outbox.all("email", "nobody@example.com")


def test_request_with_nothing_says_what_to_give(client):
    response = request_reset(client, "")
    assert response.status_code == 422
    assert "Give an email address or a phone number." in text(response)


def test_reset_by_code(client, app, verified_user, outbox):
    request_reset(client)
    code = outbox.code("email", "jane@example.com")
    page = text(client.get("/reset/code"))
    assert 'value="jane@example.com"' in page  # prefilled from the request
    response = submit(client, "/reset/code", {
        "identifier": "jane@example.com", "code": code,
        "new_password": NEW, "confirm_password": NEW})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert login(client, "jane@example.com", NEW).status_code == 303


def test_reset_by_sms_code(client, register, outbox):
    register(None, phone="+14155550123")
    submit(client, "/verify", {"identifier": "+14155550123",
                               "code": outbox.code("sms", "+14155550123")})
    request_reset(client, "+14155550123")
    code = outbox.code("sms", "+14155550123")
    response = submit(client, "/reset/code", {
        "identifier": "+14155550123", "code": code,
        "new_password": NEW, "confirm_password": NEW})
    assert response.status_code == 303
    assert login(client, "+14155550123", NEW).status_code == 303


def test_after_a_reset_the_login_form_holds_the_address(client, verified_user, outbox):
    request_reset(client)
    submit(client, "/reset/code", {
        "identifier": "jane@example.com", "code": outbox.code("email", "jane@example.com"),
        "new_password": NEW, "confirm_password": NEW})
    assert 'value="jane@example.com"' in text(client.get("/login"))


def test_a_code_left_out_is_asked_for_next_to_its_box(client, verified_user):
    # The box is filled in with the address: "Give the token from the link, or a code."
    # showed above the form, a token the page has no box for.
    request_reset(client)
    response = submit(client, "/reset/code", {"identifier": "jane@example.com", "code": "",
                                              "new_password": NEW, "confirm_password": NEW})
    assert response.status_code == 422
    assert 'id="code-error"><li>Enter the 6-digit code.</li>' in text(response)
    assert "Give the token" not in text(response)


def test_reset_with_a_wrong_code(client, verified_user, outbox):
    request_reset(client)
    code = outbox.code("email", "jane@example.com")
    wrong = "000000" if code != "000000" else "111111"
    response = submit(client, "/reset/code", {
        "identifier": "jane@example.com", "code": wrong,
        "new_password": NEW, "confirm_password": NEW})
    assert response.status_code == 422
    assert INVALID_CODE in text(response)
    assert login(client, "jane@example.com", PASSWORD).status_code == 303


def test_a_locked_code_looks_like_an_address_without_an_account(client, verified_user, outbox):
    """Six wrong codes: the same page whether or not the address has an account (and a code
    to lock), or the lock would tell which addresses have accounts."""
    known, nobody = "jane@example.com", "nobody@example.com"
    request_reset(client, known)
    request_reset(client, nobody)
    code = outbox.code("email", known)
    wrong = "000000" if code != "000000" else "111111"
    pages = [[scrubbed(submit(client, "/reset/code", {
        "identifier": who, "code": wrong, "new_password": NEW, "confirm_password": NEW}), who)
        for _ in range(6)] for who in (known, nobody)]
    assert pages[0] == pages[1]
    assert pages[0][0][0] == 422 and INVALID_CODE in pages[0][0][1]
    right = submit(client, "/reset/code", {
        "identifier": known, "code": code, "new_password": NEW, "confirm_password": NEW})
    assert right.status_code == 422 and INVALID_CODE in text(right)  # locked
    assert login(client, known, PASSWORD).status_code == 303


def test_an_empty_code_box_is_named_not_a_link_token(client, verified_user, outbox):
    # This page has no link token: a code left out is said at the code box.
    request_reset(client)
    response = submit(client, "/reset/code", {
        "identifier": "jane@example.com", "code": "",
        "new_password": NEW, "confirm_password": NEW})
    assert response.status_code == 422
    assert 'id="code-error"><li>Enter the 6-digit code.' in text(response)
    assert "token" not in text(response).replace("csrf_token", "")


def test_reset_with_passwords_that_differ(client, verified_user, outbox):
    request_reset(client)
    response = submit(client, "/reset/code", {
        "identifier": "jane@example.com", "code": outbox.code("email", "jane@example.com"),
        "new_password": NEW, "confirm_password": NEW + "!"})
    assert response.status_code == 422
    assert 'id="confirm_password-error"><li>The two passwords differ.' in text(response)


def test_the_link_page_checks_the_link_without_spending_it(client, verified_user, outbox):
    request_reset(client)
    token = outbox.link_token("jane@example.com", "/reset/")
    for _ in range(2):  # a mail scanner, then the person
        page = text(client.get(f"/reset/{token}"))
        assert "Choose a new password" in page and 'name="new_password"' in page


def test_reset_by_link_then_the_link_is_dead(client, verified_user, outbox):
    request_reset(client)
    token = outbox.link_token("jane@example.com", "/reset/")
    response = submit(client, f"/reset/{token}", {"new_password": NEW,
                                                  "confirm_password": NEW})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    again = client.get(f"/reset/{token}")
    assert again.status_code == 422
    assert "This link does not work" in text(again) and 'href="/reset"' in text(again)
    assert login(client, "jane@example.com", NEW).status_code == 303


def test_a_link_from_before_the_phone_was_proven_is_dead_once_it_is(client, outbox):
    # A mistyped email's owner asked for a reset while nothing on the account was proven;
    # the account's owner has since proven the phone: the page says the link is dead.
    phone = "+14155550199"
    body = {"email": "typo@example.com", "phone": phone, "password": PASSWORD}
    assert client.post("/api/auth/register/", json=body).status_code == 201
    request_reset(client, "typo@example.com")
    token = outbox.link_token("typo@example.com", "/reset/")
    assert client.post("/api/auth/phone-verify/", json={
        "phone": phone, "code": outbox.code("sms", phone)}).status_code == 200

    page = client.get(f"/reset/{token}")
    assert page.status_code == 422 and "This link does not work" in text(page)
    sent = submit(client, f"/reset/{token}", {"new_password": NEW, "confirm_password": NEW},
                  page="/reset")
    assert sent.status_code == 422
    assert login(client, phone, PASSWORD).status_code == 303  # the owner's password stands


def test_a_weak_new_password_keeps_the_link_alive(client, verified_user, outbox):
    request_reset(client)
    token = outbox.link_token("jane@example.com", "/reset/")
    response = submit(client, f"/reset/{token}", {"new_password": "short",
                                                  "confirm_password": "short"})
    assert response.status_code == 422
    assert "Use at least 8 characters." in text(response)
    assert client.get(f"/reset/{token}").status_code == 200


def test_an_expired_reset_link(client, verified_user, outbox, monkeypatch):
    past = int(datetime.now(UTC).timestamp()) - 2 * 3600
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: past)
    request_reset(client)
    monkeypatch.undo()
    token = outbox.link_token("jane@example.com", "/reset/")
    page = client.get(f"/reset/{token}")
    assert page.status_code == 422 and "This link does not work" in text(page)
    posted = submit(client, f"/reset/{token}", {"new_password": NEW, "confirm_password": NEW},
                    page="/reset")
    assert posted.status_code == 422
    assert login(client, "jane@example.com", NEW).status_code == 422


def test_a_reset_ends_every_session(app, client, verified_user, outbox):
    other = app.test_client()
    assert login(other, "jane@example.com").status_code == 303
    request_reset(client)
    submit(client, "/reset/code", {
        "identifier": "jane@example.com", "code": outbox.code("email", "jane@example.com"),
        "new_password": NEW, "confirm_password": NEW})
    assert other.get("/account").status_code == 302


def test_reset_forms_by_htmx(client, verified_user):
    response = submit(client, "/reset/code", {"identifier": "jane@example.com", "code": "1"},
                      htmx=True)
    assert response.status_code == 422
    assert text(response).lstrip().startswith('<form id="reset-code-form"')


def test_a_second_signup_of_a_pending_address_finishes_by_the_reset_link(app, client, outbox):
    """Whoever signed up first (perhaps an attacker) loses the account to the address's owner,
    who chooses the password on the link's page; the address is verified by it."""
    first = "an attacker's passphrase"
    assert signup(client, email="jane@example.com", password=first).status_code == 303
    assert signup(client, email="jane@example.com").status_code == 303
    message = outbox.last("email", "jane@example.com")
    assert message.payload["template"] == "finish_signup"
    # Its code goes on /reset/code (the signup page went on to /verify, which refuses it).
    assert "enter this code at http://testserver/reset/code:" in message.payload["text"]
    token = outbox.link_token("jane@example.com", "/reset/")
    assert "new_password" in text(client.get(f"/reset/{token}"))

    response = submit(client, f"/reset/{token}", {"new_password": NEW, "confirm_password": NEW})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert login(client, "jane@example.com", NEW).status_code == 303  # verified: signs in
    refused = login(app.test_client(), "jane@example.com", first)
    assert refused.status_code == 422 and "The credentials are not valid." in text(refused)


def test_a_long_password_works_typed_composed_or_decomposed(client, verified_user, outbox):
    # Set precomposed (NFC, 111 characters), typed later by a keyboard or input method
    # that decomposes (NFD, 148 code points): the same password, on every form.
    composed = ("Người Hà Nội thường uống trà đá vỉa hè mỗi buổi chiều, "
                "nhưng tôi thích cà phê sữa đá hơn nhiều vì trời nóng quá")
    decomposed = unicodedata.normalize("NFD", composed)
    request_reset(client)
    response = submit(client, "/reset/code", {
        "identifier": "jane@example.com", "code": outbox.code("email", "jane@example.com"),
        "new_password": composed, "confirm_password": composed})
    assert response.status_code == 303, text(response)
    assert login(client, "jane@example.com", decomposed).status_code == 303
    submit(client, "/logout", page="/account")
    request_reset(client)
    response = submit(client, "/reset/code", {
        "identifier": "jane@example.com", "code": outbox.code("email", "jane@example.com"),
        "new_password": decomposed + "!", "confirm_password": decomposed + "!"})
    assert response.status_code == 303, text(response)
    assert login(client, "jane@example.com", composed + "!").status_code == 303


def test_a_second_signup_of_a_pending_number_says_where_the_code_goes(client, outbox):
    # The signup page goes on to /verify, where a reset code is refused: the SMS must
    # say where it works.
    phone = "+14155550123"
    assert signup(client, phone=phone, password="an attacker's passphrase").status_code == 303
    assert signup(client, phone=phone).status_code == 303
    message = outbox.last("sms", phone)
    assert message.payload["template"] == "finish_signup"
    assert "http://testserver/reset/code " in message.payload["body"]
    response = submit(client, "/reset/code", {
        "identifier": phone, "code": outbox.code("sms", phone),
        "new_password": NEW, "confirm_password": NEW})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert login(client, phone, NEW).status_code == 303


@pytest.mark.parametrize("by", ["link", "code"])
def test_a_reset_in_a_browser_signed_in_to_another_account_ends_up_at_login(
        client, verified_user, register, outbox, by):
    # Someone else's account was open in this browser: the reset went to /login, which sent
    # on to that account's page, where "Your password has been changed ... Log in now" was
    # shown as if it were about that account.
    register("other@example.com")
    submit(client, "/verify", {"identifier": "other@example.com",
                               "code": outbox.code("email", "other@example.com")})
    assert login(client, "other@example.com").status_code == 303
    request_reset(client)
    if by == "link":
        token = outbox.link_token("jane@example.com", "/reset/")
        done = submit(client, f"/reset/{token}", {"new_password": NEW, "confirm_password": NEW})
    else:
        done = submit(client, "/reset/code", {
            "identifier": "jane@example.com", "code": outbox.code("email", "jane@example.com"),
            "new_password": NEW, "confirm_password": NEW})
    assert done.status_code == 303 and done.headers["Location"] == "/login"
    page = client.get("/login")
    assert page.status_code == 200 and "Your password has been changed" in text(page)
    assert client.get("/account").status_code == 302  # signed out of the other account
    assert login(client, "jane@example.com", NEW).status_code == 303
