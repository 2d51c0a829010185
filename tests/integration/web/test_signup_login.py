"""Landing, sign up, log in and log out, through the pages."""

from __future__ import annotations

import re

from tests.conftest import PASSWORD
from tests.helpers.app import audit_rows
from tests.integration.web.conftest import flashes, login, signup, submit, text
from webapp.application.policy import Policy
from webapp.domain.errors import Throttled


def test_landing_offers_the_ways_in(client):
    page = text(client.get("/"))
    assert 'href="/signup"' in page and 'href="/login"' in page


def test_landing_sends_a_signed_in_user_to_the_account(client, signed_in):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/account"


def test_signup_by_email_sends_the_verification_and_goes_to_verify(client, outbox):
    response = signup(client, email="new@example.com", first_name="Nia")
    assert response.status_code == 303
    assert response.headers["Location"] == "/verify"
    assert outbox.code("email", "new@example.com")
    page = text(client.get("/verify"))
    assert 'value="new@example.com"' in page  # the code form is prefilled
    assert "If that address can be used" in page


def test_signup_by_phone_sends_an_sms(client, outbox):
    response = signup(client, phone="+14155550123")
    assert response.status_code == 303
    assert outbox.code("sms", "+14155550123")
    # No email was given, so none was sent: no "open the link in the email".
    page = text(client.get("/verify"))
    assert "we have sent a text message to it. Enter the code from it below." in page
    assert "open the link in the email" not in page
    assert "If it came by email" in page


def test_signup_answers_the_same_for_a_taken_address(client, verified_user, outbox):
    taken = signup(client, email="jane@example.com")
    taken_flash = flashes(client)
    client.get("/verify")  # consume the flash
    fresh = signup(client, email="other@example.com")
    assert (taken.status_code, taken.headers["Location"]) == (
        fresh.status_code, fresh.headers["Location"])
    assert taken_flash == flashes(client)
    # The owner is told instead, by email.
    assert outbox.last("email", "jane@example.com").payload["template"] == "account_exists"


def test_signup_shows_every_problem_next_to_its_field(client):
    response = signup(client, email="not-an-email", password="short")
    assert response.status_code == 422
    page = text(response)
    assert 'id="email" ' in page and 'aria-describedby="email-error"' in page
    assert re.search(r'id="email-error">.*valid email', page)
    assert 'aria-describedby="password-help password-error"' in page
    assert "Use at least 8 characters." in page
    assert 'value="not-an-email"' in page  # what was typed stays
    assert PASSWORD not in page


def test_a_password_far_too_long_is_refused_with_the_real_limit(client):
    # The form caps the size before the service sees it; its message must name the
    # service's limit (128), not the cap's (129).
    page = text(signup(client, email="x@example.com", password="long enough " * 20))
    assert 'id="password-error"><li>Use at most 128 characters.' in page
    assert "longer than 129" not in page


def password_box_sizes(page):
    """The maxlength of each password box of the page (None: no limit)."""
    boxes = re.findall(r'<input[^>]*type="password"[^>]*>', page)
    assert boxes
    return [int(m.group(1)) if (m := re.search(r'maxlength="(\d+)"', box)) else None
            for box in boxes]


def test_no_password_box_cuts_a_password_the_service_takes(client):
    # A browser counts maxlength in UTF-16 units and silently cuts a longer paste: 128
    # emoji (256 units) are a valid password, so no box may stop short of that, or the
    # password manager keeps the whole one while the account gets a cut one.
    for path in ("/signup", "/login", "/reset/code"):
        sizes = password_box_sizes(text(client.get(path)))
        assert all(size is None or size >= 2 * 128 for size in sizes), (path, sizes)
    response = signup(client, email="emoji@example.com", password="\U0001f511" * 128)
    assert response.status_code == 303, text(response)


def test_signup_refuses_a_common_password_and_names_the_rule(client):
    page = text(signup(client, email="x@example.com", password="password123"))
    assert "too common" in page


def test_signup_without_email_or_phone_says_what_is_missing(client):
    page = text(signup(client))
    assert "Give an email address, a phone number or both." in page


def test_signup_by_htmx_returns_only_the_form(client):
    response = submit(client, "/signup", {"email": "bad", "password": "x"}, htmx=True)
    assert response.status_code == 422
    page = text(response)
    assert page.lstrip().startswith('<form id="signup-form"')
    assert "<html" not in page and 'aria-invalid="true"' in page
    assert "HX-Request" in response.headers["Vary"]


def test_signup_by_htmx_success_navigates_the_page(client):
    response = submit(client, "/signup", {"email": "ok@example.com", "password": PASSWORD},
                      htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/verify"


def test_signup_when_registration_is_by_invitation(client, app):
    app.extensions["services"].accounts.policy = Policy(registration_open=False)
    page = client.get("/signup")  # said before anything is typed: no form to fill in
    assert page.status_code == 200 and "Registration is by invitation only." in text(page)
    assert 'name="password"' not in page.get_data(as_text=True)
    data = {"email": "x@example.com", "password": PASSWORD}
    response = submit(client, "/signup", data, page="/login")  # sent anyway: refused
    assert response.status_code == 403
    assert "Registration is by invitation only." in text(response)


def test_login_with_email_opens_the_account(client, verified_user):
    email, password = verified_user
    response = login(client, email.upper(), password)
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    page = text(client.get("/account"))
    assert "jane@example.com" in page


def test_login_with_phone(client, register, outbox):
    register(None, phone="+14155550123")
    code = outbox.code("sms", "+14155550123")
    assert submit(client, "/verify", {"identifier": "+14155550123", "code": code}
                  ).status_code == 303
    response = login(client, "(415) 555-0123")
    assert response.status_code == 303 and response.headers["Location"] == "/account"


def test_login_gives_one_answer_for_unknown_account_and_wrong_password(client, verified_user):
    wrong = login(client, "jane@example.com", "not the password at all")
    unknown = login(client, "nobody@example.com", "not the password at all")
    assert wrong.status_code == unknown.status_code == 422
    message = "The credentials are not valid."
    assert message in text(wrong) and message in text(unknown)
    assert client.get("/account").status_code == 302


def test_login_of_an_unverified_account_points_to_verification(client, register):
    register("new@example.com")
    response = login(client, "new@example.com")
    assert response.status_code == 422
    page = text(response)
    assert "Verify your email address or phone number" in page
    assert 'href="/verify"' in page
    assert 'value="new@example.com"' in text(client.get("/verify"))


def test_login_by_htmx_returns_the_form_with_the_error(client, verified_user):
    response = submit(client, "/login", {"identifier": "jane@example.com", "password": "nope"},
                      htmx=True)
    assert response.status_code == 422
    assert text(response).lstrip().startswith('<form id="login-form"')
    assert 'role="alert"' in text(response)


def test_login_by_htmx_success_sets_the_session_and_navigates(client, verified_user):
    email, password = verified_user
    response = submit(client, "/login", {"identifier": email, "password": password},
                      htmx=True)
    assert response.headers["HX-Redirect"] == "/account"
    assert client.get("/account").status_code == 200


def test_a_throttled_login_is_a_429_with_retry_after(client, app, monkeypatch):
    def throttled(**_):
        raise Throttled(42)

    monkeypatch.setattr(app.extensions["services"].signin, "with_password", throttled)
    response = login(client, "jane@example.com", "whatever")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "42"
    assert "Too many requests" in text(response)


def test_logout_by_post_ends_the_session(client, signed_in):
    response = submit(client, "/logout", page="/account")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get("/account").status_code == 302


def test_logout_page_by_get_only_asks(client, signed_in):
    page = text(client.get("/logout"))
    assert "Log out?" in page
    assert client.get("/account").status_code == 200


def test_header_shows_log_out_button_when_signed_in(client, signed_in):
    page = text(client.get("/account"))
    assert 'action="/logout"' in page and 'name="csrf_token"' in page


def test_login_and_signup_send_a_signed_in_user_on(client, signed_in):
    for path in ("/login", "/signup"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/account"
    to_next = client.get("/login?next=/account%3Ftab%3Dbilling")
    assert to_next.headers["Location"] == "/account?tab=billing"
    for unsafe in ("//evil.example/x", "https://evil.example/", "/login", "/signup?next=/x"):
        response = client.get("/login", query_string={"next": unsafe})
        assert response.headers["Location"] == "/account", unsafe


def test_login_page_still_shows_for_someone_signed_out(client):
    assert 'name="password"' in client.get("/login").text
    assert 'name="password"' in client.get("/signup").text


def test_a_login_sent_without_its_password_asks_for_it_and_counts_nothing(app, client,
                                                                          verified_user):
    # Enter pressed in the address box sends the form: that was "The credentials are not
    # valid." and a failed sign-in of the account (its lockout budget, its activity).
    response = login(client, "jane@example.com", password="")
    assert response.status_code == 422
    page = text(response)
    assert 'id="password-error"><li>Enter your password.</li>' in page
    assert 'value="jane@example.com"' in page and "The credentials are not valid." not in page
    assert audit_rows(app, "authn_login_fail") == []

