"""What the second generation's pages looked like to a person (found on the screenshots of
tests/e2e/test_page_quality.py): copy that fits the account, headings, labelled rows."""

from __future__ import annotations

from tests.conftest import log_in_browser
from tests.helpers.app import make_user
from tests.integration.web.conftest import submit, text


def test_adding_a_first_phone_number_promises_no_notice_to_a_current_one(client, signed_in):
    page = text(client.get("/account/phone"))
    assert "You have no phone number on this account yet." in page
    assert "notice to the current one" not in page and "Leave it empty to remove" not in page
    assert "A code goes to the new phone number: it is added once you enter the code." in page
    email_page = text(client.get("/account/email"))  # an address to change: both said
    assert "notice to the current one" in email_page


def test_the_activity_page_has_no_empty_pager_for_one_page(client, signed_in):
    assert 'class="pager"' not in text(client.get("/account/activity"))


def test_the_passkey_page_leads_back_to_security_under_its_own_heading(client, signed_in):
    page = text(client.get("/account/passkeys"))
    assert '<p class="back-link"><a href="/account/security">← Security</a></p>' in page
    assert "<h1>Your passkeys</h1>" in page and "Sign-in security" not in page


def test_the_staff_activity_page_has_a_heading_and_labelled_rows(app, client, signed_in):
    staff = make_user(app, "boss@example.com", staff=True)
    boss = app.test_client()
    log_in_browser(boss, staff)
    page = text(boss.get("/admin/users/1/activity"))
    assert "<h1>Activity, as the user sees it" in page
    assert 'data-label="Event"><code>authn_login_success</code>' in page
    assert 'data-label="By staff">no<' in page


def test_the_emailed_confirm_link_names_the_address_it_confirms(client, signed_in, outbox):
    """The page said only 'this becomes your account's email address'."""
    asked = submit(client, "/account/email", {"new_email": "jane.new@example.com"})
    assert asked.status_code == 303
    token = outbox.link_token("jane.new@example.com", "/account/email/confirm/")
    page = text(client.get(f"/account/email/confirm/{token}"))
    assert '<strong class="wrap-anywhere">jane.new@example.com</strong> becomes' in page


def test_the_staff_end_buttons_are_small_and_say_which_session(app, client, signed_in):
    """Each session row's full-size "End" made the row taller than its text, and every
    button had the same name: which session each one ends is now said to screen readers."""
    staff = make_user(app, "boss@example.com", staff=True)
    boss = app.test_client()
    log_in_browser(boss, staff)
    page = text(boss.get("/admin/users/1"))
    assert ('<button type="submit" class="button button-small button-danger">End<span '
            'class="visually-hidden"> the browser session on ') in page


def test_the_header_says_which_of_its_pages_you_are_on(client, signed_in):
    """'Your account' and 'Security' looked and read the same wherever you were."""
    security = text(client.get("/account/security"))
    assert '<a href="/account/security" aria-current="page">Security</a>' in security
    assert '<a href="/account">Your account</a>' in security
    account = text(client.get("/account"))
    assert '<a href="/account" aria-current="page">Your account</a>' in account
    assert 'aria-current' not in text(client.get("/account/sessions"))
