"""Verification pages: the code form, resend with its cool-down, and the emailed link."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from itsdangerous import TimestampSigner

from tests.fakes import FakeClock
from tests.helpers.app import audit_rows
from tests.integration.web.conftest import (
    HTMX,
    csrf_token,
    login,
    own_app,
    scrubbed,
    signup,
    submit,
    text,
)
from webapp.application.common import INVALID_CODE

EMAIL = "new@example.com"


@pytest.fixture
def signed_up(client, outbox):
    assert signup(client, email=EMAIL).status_code == 303
    return outbox.code("email", EMAIL)


def is_verified(client) -> bool:
    return login(client, EMAIL).status_code == 303


def test_the_right_code_verifies_and_sends_to_login(client, signed_up):
    response = submit(client, "/verify", {"identifier": EMAIL, "code": signed_up})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    page = text(client.get("/login"))
    assert "Your account is verified" in page
    assert 'value="new@example.com"' in page  # the login form is prefilled
    assert is_verified(client)


def test_a_code_with_spaces_is_forgiven(client, signed_up):
    code = f"{signed_up[:3]} {signed_up[3:]}"
    assert submit(client, "/verify", {"identifier": EMAIL, "code": code}).status_code == 303


def test_a_wrong_code_is_an_error_on_the_code_field(client, signed_up):
    wrong = "000000" if signed_up != "000000" else "111111"
    response = submit(client, "/verify", {"identifier": EMAIL, "code": wrong})
    assert response.status_code == 422
    page = text(response)
    assert f'id="code-error"><li>{INVALID_CODE}' in page
    assert 'aria-describedby="code-help code-error"' in page
    assert not is_verified(client)


def test_a_code_for_an_unknown_address_gets_the_same_answer(client, signed_up):
    unknown = submit(client, "/verify", {"identifier": "nobody@example.com", "code": "123456"})
    assert unknown.status_code == 422
    assert INVALID_CODE in text(unknown)


def test_five_wrong_codes_lock_it(client, signed_up):
    wrong = "000000" if signed_up != "000000" else "111111"
    for _ in range(5):
        response = submit(client, "/verify", {"identifier": EMAIL, "code": wrong})
    assert INVALID_CODE in text(response)
    right = submit(client, "/verify", {"identifier": EMAIL, "code": signed_up})
    assert right.status_code == 422 and INVALID_CODE in text(right)
    assert not is_verified(client)


def test_a_locked_code_looks_like_an_address_without_an_account(client, signed_up):
    """Six wrong codes: the same page for a real code as for no account at all, or the lock
    would tell which addresses have accounts."""
    wrong = "000000" if signed_up != "000000" else "111111"
    known = [scrubbed(submit(client, "/verify", {"identifier": EMAIL, "code": wrong}), EMAIL)
             for _ in range(6)]
    nobody = "nobody@example.com"
    unknown = [scrubbed(submit(client, "/verify", {"identifier": nobody, "code": wrong}), nobody)
               for _ in range(6)]
    assert known == unknown
    assert known[0][0] == 422 and INVALID_CODE in known[0][1]


def test_an_expired_code_is_refused(client, app, signed_up):
    clock = FakeClock(datetime.now(UTC))
    clock.advance(hours=25)
    app.extensions["ports"].clock = clock
    response = submit(client, "/verify", {"identifier": EMAIL, "code": signed_up})
    assert INVALID_CODE in text(response)


def test_a_malformed_code_says_what_a_code_looks_like(client, signed_up):
    response = submit(client, "/verify", {"identifier": EMAIL, "code": "12ab"})
    assert "Enter the 6-digit code." in text(response)


def test_the_sms_code_verifies_a_phone(client, outbox):
    signup(client, phone="+14155550123")
    code = outbox.code("sms", "+14155550123")
    response = submit(client, "/verify", {"identifier": "+1 415 555 0123", "code": code})
    assert response.status_code == 303


def test_the_code_form_by_htmx_returns_the_form(client, signed_up):
    response = submit(client, "/verify", {"identifier": EMAIL, "code": "12"}, htmx=True)
    assert response.status_code == 422
    assert text(response).lstrip().startswith('<form id="verify-form"')


# --- resend -------------------------------------------------------------------------------


def test_resend_sends_a_new_code_and_the_old_one_dies(client, outbox, signed_up):
    response = submit(client, "/verify/resend", {"identifier": EMAIL}, page="/verify")
    assert response.status_code == 303 and response.headers["Location"] == "/verify"
    fresh = outbox.code("email", EMAIL)
    assert len(outbox.all("email", EMAIL)) == 2
    if fresh != signed_up:
        old = submit(client, "/verify", {"identifier": EMAIL, "code": signed_up})
        assert old.status_code == 422
    assert submit(client, "/verify", {"identifier": EMAIL, "code": fresh}).status_code == 303


def test_resend_answers_the_same_for_unknown_and_verified_addresses(client, verified_user,
                                                                    outbox):
    answers = []
    for address in ("nobody@example.com", "jane@example.com"):
        response = submit(client, "/verify/resend", {"identifier": address}, page="/verify")
        answers.append((response.status_code, response.headers.get("Location"),
                        "new code is on its way" in text(client.get("/verify"))))
    assert answers[0] == answers[1] == (303, "/verify", True)
    assert len(outbox.all("email", "jane@example.com")) == 1  # only the first verification


def test_resend_by_htmx_returns_the_resend_form_with_a_notice(client, signed_up):
    response = submit(client, "/verify/resend", {"identifier": EMAIL}, page="/verify",
                      htmx=True)
    assert response.status_code == 200
    page = text(response)
    assert page.lstrip().startswith('<form id="resend-form"')
    assert "new code is on its way" in page


def test_resend_with_a_bad_address_shows_the_error(client):
    response = submit(client, "/verify/resend", {"identifier": "not an email@"},
                      page="/verify")
    assert response.status_code == 422
    assert "valid email address" in text(response)


@pytest.mark.parametrize(("path", "data", "box"), [
    ("/verify", {"identifier": "", "code": "123456"}, "identifier"),
    ("/verify/resend", {"identifier": ""}, "resend-identifier"),
])
def test_an_empty_box_asks_for_an_email_or_a_phone(client, path, data, box):
    # The box takes either, but its error said "Enter an email address." to phone users.
    response = submit(client, path, data, page="/verify")
    assert response.status_code == 422
    assert re.search(rf'id="{box}-error"><li>Give an email address or a phone number.</li>',
                     text(response))
    assert "Enter an email address." not in text(response)


def labelled_inputs(page: str) -> dict[str, str]:
    """Each label's text and the one element its ``for`` names (refused if ambiguous)."""
    labels = dict(re.findall(r'<label for="([^"]+)">([^<]+)', page))
    for target in labels:
        assert len(re.findall(rf'\sid="{re.escape(target)}"', page)) == 1, target
    return labels


def test_each_form_of_the_verify_page_has_its_own_identifier_box(client):
    # Straight to /verify, nothing pending: both the code and the resend form ask for it.
    page = text(client.get("/verify"))
    assert len(labelled_inputs(page)) == 3
    bad = text(submit(client, "/verify/resend", {"identifier": "not an email@"},
                      page="/verify"))
    resend = bad[bad.index('<form id="resend-form"'):]
    box = re.search(r'<label for="([^"]+)">Email or phone number', resend).group(1)
    assert f'id="{box}"' in resend and f'id="{box}-error"' in resend
    assert f'aria-describedby="{box}-help {box}-error"' in resend
    labelled_inputs(bad)


def test_resend_page_by_get_goes_to_verify(client):
    assert client.get("/verify/resend").headers["Location"] == "/verify"


@pytest.fixture
def cooling(tmp_path):
    with own_app(tmp_path, RESEND_COOLDOWN=60) as app:
        clock = FakeClock(datetime.now(UTC))
        app.extensions["ports"].clock = clock
        yield app, clock


def test_resend_waits_out_the_cool_down_and_shows_it(cooling, outbox):
    app, clock = cooling
    client = app.test_client()
    signup(client, email=EMAIL)
    page = text(client.get("/verify"))
    assert re.search(r'disabled data-wait="60"', page)
    assert "<span data-countdown>60</span> seconds" in page

    clock.advance(seconds=20)
    assert 'data-wait="40"' in text(client.get("/verify"))
    # Asked anyway (a crafted request, or a page without JavaScript): nothing is sent.
    body = {"csrf_token": csrf_token(client, "/verify"), "identifier": EMAIL}
    client.post("/verify/resend", data=body)
    assert len(_emails(app, EMAIL)) == 1

    assert 'data-wait="60"' in text(client.get("/verify"))  # asking again restarts the wait

    clock.advance(seconds=61)
    page = text(client.get("/verify"))
    assert "data-wait" not in page and "disabled" not in page
    client.post("/verify/resend", data=body)
    assert len(_emails(app, EMAIL)) == 2
    assert 'data-wait="60"' in text(client.get("/verify"))


def _emails(app, to):
    from tests.conftest import Outbox

    return Outbox(app).all("email", to)


# --- the emailed link ------------------------------------------------------------------------


def test_opening_the_link_spends_nothing(client, outbox, signed_up):
    token = outbox.link_token(EMAIL, "/verify/")
    page = text(client.get(f"/verify/{token}"))
    assert "Confirm my email address" in page
    assert f'action="/verify/{token}"' in page
    client.get(f"/verify/{token}")  # a mail scanner, twice
    assert not is_verified(client)


def test_confirming_the_link_verifies(client, outbox, signed_up):
    token = outbox.link_token(EMAIL, "/verify/")
    response = submit(client, f"/verify/{token}")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert is_verified(client)


def test_a_tampered_link_is_refused(client, outbox, signed_up):
    token = outbox.link_token(EMAIL, "/verify/")
    response = submit(client, f"/verify/{token[:-2]}xx", page="/verify")
    assert response.status_code == 422
    page = text(response)
    assert "This link does not work" in page and 'href="/verify"' in page
    assert not is_verified(client)


def test_an_expired_link_is_refused(client, outbox, monkeypatch):
    day_and_more = int(datetime.now(UTC).timestamp()) - 25 * 3600
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: day_and_more)
    signup(client, email=EMAIL)
    monkeypatch.undo()
    token = outbox.link_token(EMAIL, "/verify/")
    opened = client.get(f"/verify/{token}")  # said at once, before the button
    assert opened.status_code == 422 and "This link has expired" in text(opened)
    response = submit(client, f"/verify/{token}", page="/verify")
    assert response.status_code == 422
    assert "This link has expired" in text(response)
    assert not is_verified(client)


def test_a_reset_link_does_not_verify(client, outbox, verified_user, signed_up):
    submit(client, "/reset", {"identifier": "jane@example.com"})
    token = outbox.link_token("jane@example.com", "/reset/")
    assert submit(client, f"/verify/{token}", page="/verify").status_code == 422


def test_a_dead_link_says_so_when_opened(client, outbox, signed_up, app):
    """Tampered, or for an address the account has left: the page says so at once (422,
    as /reset/<token> and the button would), spending and recording nothing."""
    token = outbox.link_token(EMAIL, "/verify/")
    events = len(audit_rows(app))
    for path in (f"/verify/{token[:-2]}xx", "/verify/not-a-real-token"):
        opened = client.get(path)
        assert opened.status_code == 422, path
        page = text(opened)
        assert "This link does not work" in page and "Confirm my email address" not in page
    assert len(audit_rows(app)) == events and not is_verified(client)
    assert submit(client, f"/verify/{token}").status_code == 303  # the live one still works


def test_the_link_by_htmx_navigates(client, outbox, signed_up):
    token = outbox.link_token(EMAIL, "/verify/")
    body = {"csrf_token": csrf_token(client, f"/verify/{token}")}
    response = client.post(f"/verify/{token}", data=body, headers=HTMX)
    assert response.headers["HX-Redirect"] == "/login"


@pytest.mark.parametrize("by", ["link", "code"])
def test_verifying_another_account_while_signed_in_says_which_was_verified(
        client, signed_in, register, outbox, by):
    # The login page sends a signed-in browser on to its account page: "Your account is
    # verified. Log in to continue." was shown there, about the account signed in.
    register(EMAIL)
    if by == "link":
        done = submit(client, f"/verify/{outbox.link_token(EMAIL, '/verify/')}")
    else:
        done = submit(client, "/verify", {"identifier": EMAIL,
                                          "code": outbox.code("email", EMAIL)})
    assert done.status_code == 303 and done.headers["Location"] == "/account"
    page = text(client.get("/account"))
    assert "That account is verified. You are signed in to another one here" in page
    assert "Your account is verified" not in page
    assert "jane@example.com" in page  # still signed in to Jane's account
    assert is_verified(client.application.test_client())


def test_the_text_message_code_works_under_the_email_signed_up_with_beside_it(client, outbox):
    # Signed up with both: /verify holds the email address and says "from the email or the
    # text message", but the SMS code under it was "wrong" (a wrong try on the email code).
    phone = "+14155550123"
    assert signup(client, email=EMAIL, phone=phone).status_code == 303
    assert f'value="{EMAIL}"' in text(client.get("/verify"))
    done = submit(client, "/verify", {"identifier": EMAIL, "code": outbox.code("sms", phone)})
    assert done.status_code == 303 and done.headers["Location"] == "/login"
    # The login form holds the number (the email is still unproven: it would be refused).
    assert f'value="{phone}"' in text(client.get("/login"))
    assert login(client, phone).status_code == 303  # the phone is proven: it signs in


def test_after_the_phone_is_verified_the_login_form_holds_the_phone(client, outbox):
    # Signed up with both, the phone proven with its own number typed: the login form
    # held the email of the sign-up, whose login is refused while it is unproven.
    phone = "+14155550123"
    assert signup(client, email=EMAIL, phone=phone).status_code == 303
    done = submit(client, "/verify", {"identifier": phone, "code": outbox.code("sms", phone)})
    assert done.status_code == 303 and done.headers["Location"] == "/login"
    page = text(client.get("/login"))
    assert f'value="{phone}"' in page and f'value="{EMAIL}"' not in page


def test_a_wrong_code_under_the_email_signed_up_with_a_phone_is_still_wrong(client, outbox):
    phone = "+14155550123"
    assert signup(client, email=EMAIL, phone=phone).status_code == 303
    refused = submit(client, "/verify", {"identifier": EMAIL, "code": "000000"})
    assert refused.status_code == 422 and INVALID_CODE in text(refused)
    assert not is_verified(client)


def test_a_text_message_code_proves_only_the_number_signed_up_with_here(client, register,
                                                                        outbox):
    # Another account's email typed in the box: its code is that account's, never the
    # phone's of the sign-up made in this browser.
    register("other@example.com")
    phone = "+14155550123"
    assert signup(client, email=EMAIL, phone=phone).status_code == 303
    refused = submit(client, "/verify", {"identifier": "other@example.com",
                                         "code": outbox.code("sms", phone)})
    assert refused.status_code == 422 and INVALID_CODE in text(refused)
    assert login(client, phone).status_code == 422


def test_the_text_message_code_under_the_email_once_that_is_proven_asks_to_log_in(client,
                                                                                  outbox):
    # The email was verified by its link meanwhile: the phone is now an address added
    # beside a proven one, which only its owner, signed in, may prove ("wrong code" before).
    phone = "+14155550123"
    assert signup(client, email=EMAIL, phone=phone).status_code == 303
    submit(client, f"/verify/{outbox.link_token(EMAIL, '/verify/')}", page="/verify")
    asked = submit(client, "/verify", {"identifier": EMAIL, "code": outbox.code("sms", phone)})
    assert asked.status_code == 303 and asked.headers["Location"] == "/login?next=/verify"
