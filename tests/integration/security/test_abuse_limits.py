"""Throttling over HTTP, as an attacker tries it: brute force, spoofed X-Forwarded-For,
password spraying, message floods. Each test builds its own app with limits ON (the
default test config turns them off), so each starts from fresh in-memory storage.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.conftest import PASSWORD, Outbox
from tests.integration.web.conftest import login as web_login
from tests.integration.web.conftest import submit as web_submit
from tests.integration.web.conftest import text as web_text
from webapp.extensions import db

WRONG = "not the password at all"


@pytest.fixture
def limited(app_factory) -> Any:
    """``limited(**overrides)``: an app with the limits ON and fresh in-memory storage."""
    return lambda **overrides: app_factory(RATELIMIT_ENABLED=True, **overrides)


def make_user(app: Flask, email: str = "jane@example.com", verified: bool = True) -> str:
    """An account made through the services (no per-address budget spent)."""
    services = app.extensions["services"]
    with app.app_context():
        services.accounts.register(email=email, phone=None, password=PASSWORD)
        if verified:
            code = Outbox(app).code("email", email)
            services.verification.verify_email_code(email, code)
    return email


def login(client, email: str, password: str = WRONG, **headers: str):
    return client.post("/api/auth/login/", json={"email": email, "password": password},
                       headers=headers)


def shape(response) -> tuple[int, Any, int | None]:
    """Status, body, and the Retry-After of a 429 (Flask-Limiter also puts its
    per-address window on other answers; that one says nothing about the account)."""
    if response.status_code != 429:
        return response.status_code, response.json, None
    # Flask-Limiter re-writes Retry-After, truncating: 60 may read 59 a moment later.
    return response.status_code, response.json, round(int(response.headers["Retry-After"]), -1)


def test_brute_force_one_account_ends_in_429_and_unknown_accounts_look_the_same(limited):
    app = limited()
    make_user(app)
    client = app.test_client()
    known = [shape(login(client, "jane@example.com")) for _ in range(7)]
    unknown = [shape(login(client, "nobody@example.com")) for _ in range(7)]
    assert known == unknown
    assert [status for status, _, _ in known] == [401] * 5 + [429] * 2
    status, body, retry_after = known[5]
    assert body["code"] == "throttled" and retry_after == 60
    # the right password does not get through a lock either
    assert login(client, "jane@example.com", PASSWORD).status_code == 429
    with app.app_context():
        from webapp.infrastructure.orm import AuditEventRow

        kinds = db.session.scalars(db.select(AuditEventRow.kind)).all()
    assert kinds.count("authn_login_lock") == 2  # the known and the unknown account


def test_rotating_spoofed_forwarded_for_does_not_reset_limits(limited):
    app = limited(TRUSTED_PROXIES=0, RATELIMIT_LOGIN="8/minute")
    make_user(app)
    client = app.test_client()
    # one account from "new" addresses each time: the account lockout holds
    answers = [login(client, "jane@example.com", **{"X-Forwarded-For": f"198.51.100.{i}"})
               for i in range(6)]
    assert [r.status_code for r in answers] == [401] * 5 + [429]
    # many accounts from "new" addresses: the address budget holds (8 a minute)
    answers = [login(client, f"user{i}@example.com", **{"X-Forwarded-For": f"203.0.113.{i}"})
               for i in range(6)]
    assert [r.status_code for r in answers] == [401, 401] + [429] * 4
    assert all(int(r.headers["Retry-After"]) > 0 for r in answers[2:])


def test_behind_one_proxy_only_the_proxy_added_hop_counts(limited):
    app = limited(TRUSTED_PROXIES=1, RATELIMIT_LOGIN="5/minute")
    client = app.test_client()

    def via_proxy(i: int, client_ip: str):
        # the client sent its own X-Forwarded-For; the proxy appended the real address
        return login(client, f"user{i}@example.com",
                     **{"X-Forwarded-For": f"10.0.0.{i}, {client_ip}"})

    attacker = [via_proxy(i, "203.0.113.9") for i in range(7)]
    assert [r.status_code for r in attacker] == [401] * 5 + [429] * 2
    assert attacker[-1].headers["Retry-After"]
    # another client behind the same proxy is not locked out by the attacker
    assert via_proxy(99, "203.0.113.10").status_code == 401


def test_password_spraying_across_50_accounts_from_one_address(limited):
    app = limited()
    for i in range(3):
        make_user(app, f"user{i}@example.com")
    client = app.test_client()
    statuses = [login(client, f"user{i % 50}@example.com", "Summer2026!").status_code
                for i in range(50)]
    assert statuses[:20] == [401] * 20  # "login": 20/minute per address by default
    assert set(statuses[20:]) == {429}
    last = login(client, "user1@example.com", PASSWORD)
    assert last.status_code == 429 and int(last.headers["Retry-After"]) > 0
    assert last.json["code"] == "throttled"


def test_token_endpoint_shares_the_login_budget(limited):
    app = limited(RATELIMIT_LOGIN="3/minute")
    client = app.test_client()
    body = {"email": "a@example.com", "password": WRONG}
    assert client.post("/api/auth/login/", json=body).status_code == 401
    assert client.post("/api/auth/token/", json=body).status_code == 401
    body["email"] = "b@example.com"
    assert client.post("/api/auth/token/", json=body).status_code == 401
    assert client.post("/api/auth/login/", json=body).status_code == 429


@pytest.mark.parametrize("path,verified,variants", [
    ("/api/auth/email-verify/resend/", False,
     ["Jane@Example.com", "JANE@EXAMPLE.COM", "jane@example.com "]),
    ("/api/auth/password-reset/", True,
     ["Jane@Example.com", "JANE@EXAMPLE.COM", "jane@example.com", "jAne@example.com"]),
])
def test_message_caps_per_destination(limited, path, verified, variants):
    app = limited(RATELIMIT_RESEND="100/minute", RATELIMIT_RESET="100/minute")
    known = make_user(app, "jane@example.com", verified=verified)
    client = app.test_client()
    outbox = Outbox(app)
    before = len(outbox.all("email", known))
    # for resend, registration already sent the first verification message of three
    allowed = 3 if verified else 2
    answers = [client.post(path, json={"email": v}) for v in variants[:allowed]]
    assert {r.status_code for r in answers} == {202}
    capped = client.post(path, json={"email": variants[-1]})
    assert capped.status_code == 429 and 3500 < int(capped.headers["Retry-After"]) <= 3600
    assert len(outbox.all("email", known)) - before == allowed
    # an unknown address: three answers like the known one's, then the same 429
    unknown = [shape(client.post(path, json={"email": v}))
               for v in ["Nobody@Example.com", "nobody@example.com", "NOBODY@example.com",
                         "nobody@EXAMPLE.com"]]
    assert [s[:2] for s in unknown[:3]] == [(202, answers[0].json)] * 3
    status, body, retry_after = unknown[3]
    assert (status, body) == (429, capped.json) and retry_after > 3500


def test_sms_reset_cap_keys_on_the_e164_number(limited):
    app = limited()
    client = app.test_client()
    for number in ("+1 415 555 2671", "(415) 555-2671", "415.555.2671"):
        assert client.post("/api/auth/password-reset/", json={"phone": number}).status_code == 202
    refused = client.post("/api/auth/password-reset/", json={"phone": "+14155552671"})
    assert refused.status_code == 429 and refused.headers["Retry-After"]


def test_per_address_cap_on_reset_requests(limited):
    app = limited(RATELIMIT_RESET="4/minute")
    client = app.test_client()
    answers = [client.post("/api/auth/password-reset/", json={"email": f"u{i}@example.com"})
               for i in range(5)]
    assert [r.status_code for r in answers] == [202] * 4 + [429]


def test_lockout_is_lifted_by_a_password_reset(limited):
    app = limited()
    email = make_user(app)
    client = app.test_client()
    for _ in range(5):
        login(client, email)
    assert login(client, email, PASSWORD).status_code == 429
    assert client.post("/api/auth/password-reset/", json={"email": email}).status_code == 202
    token = Outbox(app).link_token(email, "/reset/")
    new = "a completely new passphrase"
    confirm = client.post("/api/auth/password-reset/confirm/", json={
        "token": token, "new_password": new, "confirm_password": new})
    assert confirm.status_code == 200, confirm.json
    assert login(client, email, new).status_code == 200


def test_refresh_is_limited_per_address(limited):
    app = limited(RATELIMIT_REFRESH="2/minute")
    client = app.test_client()
    answers = [client.post("/api/auth/token/refresh/", json={"refresh": "x.y.z"})
               for _ in range(3)]
    assert [r.status_code for r in answers] == [401, 401, 429]
    assert answers[-1].headers["Retry-After"]


def test_disabled_limits_never_throttle(app_factory):
    app = app_factory(RATELIMIT_ENABLED=False)
    make_user(app)
    client = app.test_client()
    statuses = {login(client, "jane@example.com").status_code for _ in range(25)}
    statuses |= {client.post("/api/auth/password-reset/",
                             json={"email": "jane@example.com"}).status_code for _ in range(6)}
    assert statuses == {401, 202}
    assert login(client, "jane@example.com", PASSWORD).status_code == 200


def test_a_throttled_page_is_html_with_retry_after(limited):
    from webapp.domain.errors import Throttled

    app = limited()

    @app.route("/throttled-page")
    def throttled_page():
        raise Throttled(42)

    response = app.test_client().get("/throttled-page")
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    assert response.headers["Retry-After"] == "42"


def test_every_password_or_message_endpoint_has_a_per_address_limit(limited):
    app = limited()
    for endpoint in ("api.login", "api.token_obtain", "api.token_refresh", "api.register",
                     "api.email_verify_resend", "api.phone_verify_resend", "api.password_reset",
                     "api.email_verify", "api.phone_verify", "api.password_reset_verify",
                     "api.password_reset_confirm", "api.invitation_create"):
        assert getattr(app.view_functions[endpoint], "_ip_limited", False), endpoint


def test_limits_are_configured_one_by_one_and_checked_at_start_up(tmp_path):
    from webapp.config import ConfigError, Settings

    settings = Settings.load({"RATELIMIT_LOGIN": "3/minute", "LOCKOUT_STEPS": "2:30"},
                             {"RATELIMIT_RESET_PER_DESTINATION": "1/hour"}, tmp_path)
    assert settings.RATELIMITS["login"] == "3/minute"
    assert settings.RATELIMITS["reset_per_destination"] == "1/hour"
    assert settings.RATELIMITS["register"] == "10/minute;50/hour"  # the default
    with pytest.raises(ConfigError) as caught:
        Settings.load({"RATELIMIT_LOGIN": "lots", "LOCKOUT_STEPS": "five"}, {}, tmp_path)
    assert any("RATELIMIT_LOGIN" in p for p in caught.value.problems)
    assert any("LOCKOUT_STEPS" in p for p in caught.value.problems)


def test_a_page_over_its_address_budget_answers_a_429_page_with_retry_after(limited):
    from webapp.interface.limits import register_rate_limits

    app = limited(RATELIMIT_LOGIN="2/minute", WTF_CSRF_ENABLED=False)

    def a_login_page():
        return "<!doctype html><form method=post></form>"

    app.add_url_rule("/a-login-page", "test_login_page", a_login_page, methods=["GET", "POST"])
    register_rate_limits(app, {"test_login_page": "login"})
    client = app.test_client()
    assert {client.get("/a-login-page").status_code for _ in range(5)} == {200}  # GET is free
    assert [client.post("/a-login-page").status_code for _ in range(2)] == [200, 200]
    refused = client.post("/a-login-page")
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert int(refused.headers["Retry-After"]) > 0
    # the page and the API share the address's one "login" budget
    assert login(client, "jane@example.com").status_code == 429


def change_password(client, current: str):
    new = "another fine passphrase"
    return web_submit(client, "/account/password", {
        "current_password": current, "new_password": new, "confirm_password": new},
        page="/account")


def test_wrong_current_passwords_lock_the_account_for_login_too(limited):
    # A stolen browser session guesses the password on the change-password form.
    app = limited()
    make_user(app)
    client = app.test_client()
    assert web_login(client, "jane@example.com").status_code == 303
    answers = [change_password(client, WRONG) for _ in range(5)]
    assert [r.status_code for r in answers] == [422] * 5
    assert "The current password is wrong." in web_text(answers[-1])
    locked = change_password(client, PASSWORD)  # even the right one, while locked
    assert locked.status_code == 429 and round(int(locked.headers["Retry-After"]), -1) == 60
    assert "Too many requests. Try again later." in web_text(locked)
    # the same lock as login's: the API refuses the right password for this account
    assert shape(login(client, "jane@example.com", PASSWORD))[0] == 429
    assert client.get("/account").status_code == 200  # only the password check is locked


def test_login_failures_lock_the_current_password_check_too(limited):
    app = limited()
    make_user(app)
    client = app.test_client()
    assert web_login(client, "jane@example.com").status_code == 303
    assert [login(client, "jane@example.com").status_code for _ in range(5)] == [401] * 5
    locked = change_password(client, PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0


@pytest.mark.parametrize("path,body", [
    ("/api/auth/phone-verify/resend/", {"phone": "+14155552671"}),
    ("/api/auth/email-verify/resend/", {"email": "nobody@example.com"}),
    ("/api/auth/password-reset/", {"phone": "+14155552671"}),
    ("/api/auth/password-reset/", {"email": "nobody@example.com"}),
])
def test_unknown_addresses_rehearse_the_message_and_queue_nothing(client, outbox, path, body):
    # the same work as a real message (rendered with the real templates), nothing queued
    assert client.post(path, json=body).status_code == 202
    assert outbox.all() == []
