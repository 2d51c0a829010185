"""The account page: what it shows, names, password change, log out everywhere, billing."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from jinja2 import ChoiceLoader, DictLoader

from tests.conftest import PASSWORD
from tests.helpers.app import audit_rows
from tests.integration.web.conftest import HTMX, csrf_token, login, submit, text

NEW = "a brand new passphrase"


def test_account_shows_names_addresses_and_their_state(client, register, outbox):
    register("both@example.com", phone="+14155550123", first_name="Ada", last_name="L")
    submit(client, "/verify", {"identifier": "both@example.com",
                               "code": outbox.code("email", "both@example.com")})
    login(client, "both@example.com")
    page = text(client.get("/account"))
    assert "Hello, Ada" in page
    assert "both@example.com</span> <span class=\"badge badge-ok\">Verified" in page
    assert "+14155550123</span> <span class=\"badge badge-warn\">Not verified" in page
    assert 'href="/verify"' in page


def test_billing_is_off_without_a_billing_panel(client, signed_in):
    assert "Billing is off" in text(client.get("/account"))


def test_the_billing_panel_is_included_when_billing_provides_it(app, client, signed_in):
    app.jinja_env.loader = ChoiceLoader([
        DictLoader({"billing/_panel.html": "<p>Plan: {{ billing.plan }}</p>"}),
        app.jinja_env.loader])
    app.extensions["billing.account_context"] = lambda user: {"plan": f"pro for {user.email}"}
    page = text(client.get("/account"))
    assert "<p>Plan: pro for jane@example.com</p>" in page
    assert "Billing is off" not in page


def test_profile_names_are_saved(client, signed_in):
    response = submit(client, "/account/profile", {"first_name": " Janet ", "last_name": "Doe"},
                      page="/account")
    assert response.status_code == 303
    assert "Hello, Janet" in text(client.get("/account"))


def test_a_too_long_name_is_an_error_on_its_field(client, signed_in):
    response = submit(client, "/account/profile", {"first_name": "x" * 101},
                      page="/account")
    assert response.status_code == 422
    assert 'id="first_name-error"><li>Use at most 100 characters.' in text(response)


def test_profile_by_htmx_returns_its_form(client, signed_in):
    response = submit(client, "/account/profile", {"first_name": "x" * 101},
                      page="/account", htmx=True)
    assert text(response).lstrip().startswith('<form id="profile-form"')


def change_password(client, current=PASSWORD, new=NEW, confirm=None, htmx=False):
    return submit(client, "/account/password", {
        "current_password": current, "new_password": new,
        "confirm_password": new if confirm is None else confirm}, page="/account", htmx=htmx)


def test_change_password_needs_the_current_one(client, signed_in):
    response = change_password(client, current="not it at all")
    assert response.status_code == 422
    assert 'id="current_password-error"><li>The current password is wrong.' in text(response)


def test_change_password_without_the_current_one_asks_for_it_and_counts_nothing(
        app, client, signed_in):
    # Left empty, it was "The current password is wrong." and a wrong guess counted
    # toward the account's login lockout.
    response = change_password(client, current="")
    assert response.status_code == 422
    assert 'id="current_password-error"><li>Enter your current password.' in text(response)
    assert audit_rows(app, "authn_password_change_fail") == []


def test_change_password_checks_the_new_one(client, signed_in):
    assert "The two passwords differ." in text(change_password(client, confirm="other one!"))
    assert "too common" in text(change_password(client, new="password123"))


def test_change_password_keeps_this_session_and_ends_the_others(app, client, signed_in,
                                                                 outbox):
    other = app.test_client()
    login(other, "jane@example.com")
    assert other.get("/account").status_code == 200
    response = change_password(client)
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200
    assert other.get("/account").status_code == 302
    assert login(other, "jane@example.com", NEW).status_code == 303
    assert outbox.last("email", "jane@example.com").payload["template"] == "password_changed"


def test_change_password_by_htmx(client, signed_in):
    response = change_password(client, current="wrong wrong", htmx=True)
    assert response.status_code == 422
    assert text(response).lstrip().startswith('<form id="password-form"')
    assert change_password(client, htmx=True).headers["HX-Redirect"] == "/account"


def test_log_out_everywhere(app, client, signed_in, tokens):
    other = app.test_client()
    login(other, "jane@example.com")
    response = submit(client, "/account/logout-everywhere", page="/account")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get("/account").status_code == 302
    assert other.get("/account").status_code == 302
    refreshed = client.post("/api/auth/token/refresh/", json={"refresh": tokens["refresh"]})
    assert refreshed.status_code == 401


def test_account_actions_need_a_session(client):
    for path in ("/account/profile", "/account/password", "/account/logout-everywhere"):
        response = submit(client, path, page="/login")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_account_actions_by_htmx_without_a_session(client):
    body = {"first_name": "x"}
    response = client.post("/account/profile", data=body, headers=HTMX)
    assert response.status_code == 400  # no CSRF token: refused first


def test_a_form_sent_after_the_session_ended_goes_to_login_then_back_to_the_account(
        app, client, signed_in):
    other = app.test_client()
    login(other, "jane@example.com")
    body = {"csrf_token": csrf_token(other, "/account"), "first_name": "Typed"}
    assert change_password(client).status_code == 303  # ends the other browser's session
    by_htmx = other.post("/account/profile", data=body, headers=HTMX)
    # The whole window goes to the login page: not that page swapped into the form.
    assert by_htmx.status_code == 204, text(by_htmx)
    assert by_htmx.headers["HX-Redirect"] == "/login?next=%2Faccount"
    plain = other.post("/account/profile", data=body)
    assert plain.status_code == 302 and plain.headers["Location"] == "/login?next=%2Faccount"
    assert "Log in to see that page." in text(other.get("/login"))
    next_ = parse_qs(urlsplit(plain.headers["Location"]).query)["next"][0]
    back = login(other, "jane@example.com", NEW, next_=next_)
    assert back.headers["Location"] == "/account"
    assert other.get(back.headers["Location"]).status_code == 200  # a page, not a 405


def test_the_password_form_names_the_account_for_password_managers(client, signed_in):
    # Chromium: "Password forms should have (optionally hidden) username fields". Without
    # one a password manager cannot tell whose saved password the new one replaces.
    username = '<input type="text" autocomplete="username" value="jane@example.com" hidden>'
    assert username in text(client.get("/account"))
    assert username in text(change_password(client, current="wrong wrong", htmx=True))
