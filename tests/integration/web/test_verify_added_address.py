"""The verification pages and an address added beside a proven one: only the account's
owner, signed in, proves it. Anonymous: to the login page and back; another account: an
error on the form."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import stored_user
from tests.integration.web.conftest import flashes, login, signup, submit, text
from webapp.domain.errors import OwnerSignInRequired

EMAIL = "new@example.com"
STRANGER = "+14155550199"
REFUSED = OwnerSignInRequired.default_detail


@pytest.fixture
def mistyped(client, outbox) -> str:
    """Signed up with an email and a mistyped phone, the email verified; the SMS code."""
    assert signup(client, email=EMAIL, phone=STRANGER).status_code == 303
    assert submit(client, "/verify", {"identifier": EMAIL,
                                      "code": outbox.code("email", EMAIL)}).status_code == 303
    return outbox.code("sms", STRANGER)


def test_anonymous_goes_to_login_and_back_then_the_same_code_works(client, app, mistyped):
    response = submit(client, "/verify", {"identifier": STRANGER, "code": mistyped})

    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/verify"
    assert REFUSED in flashes(client)
    assert stored_user(app, email=EMAIL).phone_verified_at is None

    back = login(client, EMAIL, next_="/verify")
    assert back.status_code == 303 and back.headers["Location"] == "/verify"
    done = submit(client, "/verify", {"identifier": STRANGER, "code": mistyped})
    assert done.status_code == 303 and done.headers["Location"] == "/account"
    assert stored_user(app, email=EMAIL).phone_verified_at is not None


def test_htmx_is_told_to_navigate_to_the_login_page(client, mistyped):
    response = submit(client, "/verify", {"identifier": STRANGER, "code": mistyped}, htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/login?next=/verify"


def test_signed_in_as_another_account_the_form_shows_the_error(client, app, register, outbox,
                                                                mistyped):
    register("other@example.com")
    assert submit(client, "/verify", {"identifier": "other@example.com", "code": outbox.code(
        "email", "other@example.com")}).status_code == 303
    assert login(client, "other@example.com").status_code == 303

    response = submit(client, "/verify", {"identifier": STRANGER, "code": mistyped})

    assert response.status_code == 422
    assert REFUSED in text(response)
    assert stored_user(app, email=EMAIL).phone_verified_at is None


def test_the_link_page_anonymous_to_login_and_back(client, app, register, outbox):
    """A phone proven first, then the emailed link for the email beside it."""
    register(EMAIL, phone=STRANGER)
    assert submit(client, "/verify", {"identifier": STRANGER,
                                      "code": outbox.code("sms", STRANGER)}).status_code == 303
    page = f"/verify/{outbox.link_token(EMAIL, '/verify/')}"

    response = submit(client, page)

    assert response.status_code == 303
    assert response.headers["Location"] == f"/login?next={page}"
    assert REFUSED in flashes(client)
    assert stored_user(app, phone=STRANGER).email_verified_at is None

    back = login(client, STRANGER, next_=page)
    assert back.status_code == 303 and back.headers["Location"] == page
    assert "Confirm my email address" in text(client.get(page))  # GET only shows the button
    done = submit(client, page)
    assert done.status_code == 303 and done.headers["Location"] == "/account"
    assert stored_user(app, phone=STRANGER).email_verified_at is not None


def test_the_link_page_signed_in_as_another_account_shows_the_error(client, app, register,
                                                                    outbox, signed_in):
    register("victim@example.com", phone=STRANGER)
    assert submit(client, "/verify", {"identifier": STRANGER, "code": outbox.code(
        "sms", STRANGER)}).status_code == 303  # first proof: no sign-in needed
    page = f"/verify/{outbox.link_token('victim@example.com', '/verify/')}"

    response = submit(client, page)

    assert response.status_code == 422
    assert REFUSED in text(response) and "Signed in to another account" in text(response)
    assert stored_user(app, phone=STRANGER).email_verified_at is None


def test_a_first_verification_signed_in_elsewhere_still_works(client, app, outbox, signed_in,
                                                              register):
    register("fresh@example.com")
    response = submit(client, "/verify", {"identifier": "fresh@example.com",
                                          "code": outbox.code("email", "fresh@example.com")},
                      htmx=True)
    # Back to the signed-in account's page (the login page would only send it there).
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/account"
    assert stored_user(app, email="fresh@example.com").email_verified_at is not None


def test_the_owners_right_code_sent_twice_says_the_address_is_verified(client, app, mistyped):
    # The second answer of a double submit (the same right code: nothing to tell) said the
    # signed-in owner had verified "another" account.
    assert login(client, EMAIL).status_code == 303
    for _ in range(2):
        done = submit(client, "/verify", {"identifier": STRANGER, "code": mistyped})
        assert done.status_code == 303 and done.headers["Location"] == "/account"
        assert flashes(client) == ["The address is verified."]
        client.get("/account")  # shows (and so spends) the message
