"""Password reset: request (always 202), verify, confirm by link, by email code, by SMS code."""

from __future__ import annotations

import time

import pytest
from itsdangerous.timed import TimestampSigner

from tests.conftest import PASSWORD
from tests.integration.api.conftest import (
    NEW_PASSWORD,
    PHONE,
    assert_error,
    bearer,
    comparable,
    login,
)
from webapp.domain.model import CodePurpose

EMAIL = "jane@example.com"
RESET = "/api/auth/password-reset/"
CHECK = "/api/auth/password-reset/verify/"
CONFIRM = "/api/auth/password-reset/confirm/"


def new_password(**proof: str) -> dict[str, str]:
    return {**proof, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}


@pytest.fixture
def reset_token(client, verified_user, outbox) -> str:
    assert client.post(RESET, json={"email": EMAIL}).status_code == 202
    return outbox.link_token(EMAIL, "/reset/")


def test_request_answers_the_same_for_every_address(client, verified_user, phone_user, outbox):
    answers = [client.post(RESET, json=body) for body in (
        {"email": EMAIL}, {"email": "nobody@example.com"},
        {"phone": PHONE}, {"phone": "+14155550199"},
    )]
    assert answers[0].status_code == 202
    assert all(comparable(a) == comparable(answers[0]) for a in answers)
    assert outbox.last("email", EMAIL).payload["template"] == "reset"
    assert outbox.last("sms", PHONE).payload["template"] == "reset"
    assert outbox.all(to="nobody@example.com") == outbox.all(to="+14155550199") == []


def test_reset_link_uses_app_base_url_not_the_request_host(client, verified_user, outbox):
    client.post(RESET, json={"email": EMAIL}, headers={"Host": "evil.example"},
                base_url="http://evil.example")
    text = outbox.last("email", EMAIL).payload["text"]
    assert "http://testserver/reset/" in text and "evil.example" not in text


@pytest.mark.parametrize("body", [{}, {"email": EMAIL, "phone": PHONE}, {"email": "nope"}])
def test_request_needs_one_valid_identifier(client, body):
    assert_error(client.post(RESET, json=body), 400, "invalid")


def test_verify_tells_a_valid_token_and_does_not_spend_it(client, reset_token):
    for _ in range(2):
        response = client.post(CHECK, json={"token": reset_token})
        assert response.status_code == 200
        assert response.json == {"valid": True}
    assert client.post(CONFIRM, json=new_password(token=reset_token)).status_code == 200


@pytest.mark.parametrize("body", [
    {"token": "garbage"}, {}, {"email": EMAIL}, {"email": EMAIL, "code": "000000x"},
])
def test_verify_refuses_bad_proofs(client, reset_token, body):
    assert_error(client.post(CHECK, json=body), 400)


def test_confirm_by_link_changes_the_password_and_revokes_every_session(client, app,
                                                                        reset_token, outbox):
    sessions = [login(client, email=EMAIL), login(client, email=EMAIL)]
    response = client.post(CONFIRM, json=new_password(token=reset_token))
    assert response.status_code == 200
    assert set(response.json) == {"detail"}
    for pair in sessions:
        assert_error(client.post("/api/auth/token/refresh/", json={"refresh": pair["refresh"]}),
                     401)
        assert_error(client.get("/api/auth/me/", headers=bearer(pair["access"])), 401)
    assert outbox.last("email", EMAIL).payload["template"] == "password_changed"
    assert_error(client.post("/api/auth/token/", json={"email": EMAIL, "password": PASSWORD}),
                 401)
    assert login(client, NEW_PASSWORD, email=EMAIL)
    # The link is spent.
    assert_error(client.post(CONFIRM, json=new_password(token=reset_token)), 400)
    assert_error(client.post(CHECK, json={"token": reset_token}), 400)


def test_confirm_with_mismatched_passwords_is_400_and_keeps_the_token(client, reset_token):
    body = {"token": reset_token, "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD + "!"}
    assert assert_error(client.post(CONFIRM, json=body), 400)["errors"]["confirm_password"]
    assert client.post(CONFIRM, json=new_password(token=reset_token)).status_code == 200


@pytest.mark.parametrize("weak", ["short", "password1", "jane@example.com", "x" * 129])
def test_confirm_with_a_weak_password_is_400_and_keeps_the_token(client, reset_token, weak):
    body = {"token": reset_token, "new_password": weak, "confirm_password": weak}
    assert assert_error(client.post(CONFIRM, json=body), 400)["errors"]["new_password"]
    assert login(client, email=EMAIL)  # the old password still works
    assert client.post(CONFIRM, json=new_password(token=reset_token)).status_code == 200


def test_confirm_with_an_expired_link_is_400(client, reset_token, monkeypatch):
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) + 3601)
    assert_error(client.post(CONFIRM, json=new_password(token=reset_token)), 400)
    assert login(client, email=EMAIL)


def test_confirm_with_an_invalid_link_is_400(client, verified_user):
    assert_error(client.post(CONFIRM, json=new_password(token="not-a-token")), 400)


def test_older_links_die_when_the_password_changes(client, verified_user, outbox):
    client.post(RESET, json={"email": EMAIL})
    first = outbox.link_token(EMAIL, "/reset/")
    client.post(RESET, json={"email": EMAIL})
    second = outbox.link_token(EMAIL, "/reset/")
    assert client.post(CONFIRM, json=new_password(token=second)).status_code == 200
    assert_error(client.post(CONFIRM, json=new_password(token=first)), 400)


def test_confirm_by_email_code(client, verified_user, outbox):
    client.post(RESET, json={"email": EMAIL})
    code = outbox.code("email", EMAIL)
    assert client.post(CHECK, json={"email": EMAIL, "code": code}).json == {"valid": True}
    assert client.post(CONFIRM, json=new_password(email=EMAIL, code=code)).status_code == 200
    assert login(client, NEW_PASSWORD, email=EMAIL)
    assert_error(client.post(CONFIRM, json=new_password(email=EMAIL, code=code)), 400)


def test_confirm_by_sms_code_notifies_by_sms(client, phone_user, outbox):
    client.post(RESET, json={"phone": PHONE})
    code = outbox.code("sms", PHONE)
    sessions = login(client, phone=PHONE)
    assert client.post(CONFIRM, json=new_password(phone="(415) 555-0123", code=code)
                       ).status_code == 200
    assert outbox.last("sms", PHONE).payload["template"] == "password_changed"
    assert_error(client.post("/api/auth/token/refresh/", json={"refresh": sessions["refresh"]}),
                 401)
    assert login(client, NEW_PASSWORD, phone=PHONE)


def test_sms_code_expires(clock, client, phone_user, outbox):
    client.post(RESET, json={"phone": PHONE})
    code = outbox.code("sms", PHONE)
    clock.advance(minutes=11)
    assert_error(client.post(CONFIRM, json=new_password(phone=PHONE, code=code)), 400)


def test_reset_code_locks_after_five_wrong_tries(client, verified_user, outbox):
    client.post(RESET, json={"email": EMAIL})
    code = outbox.code("email", EMAIL)
    bad = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert_error(client.post(CHECK, json={"email": EMAIL, "code": bad}), 400)
    assert_error(client.post(CONFIRM, json=new_password(email=EMAIL, code=code)), 400,
                 "invalid_code")
    assert login(client, email=EMAIL)


@pytest.mark.parametrize(("known", "nobody"), [
    ({"email": EMAIL}, {"email": "nobody@example.com"}),
    ({"phone": PHONE}, {"phone": "+14155550199"}),
])
def test_a_locked_code_answers_like_an_address_without_an_account(
        client, verified_user, phone_user, outbox, known, nobody):
    """Six wrong codes: the same answers whether or not the address has an account (and a
    code to lock), or the lock would enumerate accounts (the rate limiter is off here)."""
    assert client.post(RESET, json=known).status_code == 202
    assert client.post(RESET, json=nobody).status_code == 202
    sent = outbox.code("email", EMAIL) if "email" in known else outbox.code("sms", PHONE)
    guess = f"{(int(sent) + 1) % 1_000_000:06d}"
    answers = [[comparable(client.post(CHECK, json={**body, "code": guess})) for _ in range(6)]
               for body in (known, nobody)]
    assert answers[0] == answers[1]
    assert answers[0][0][0] == 400 and b'"invalid_code"' in answers[0][0][1]


def test_wrong_guesses_at_a_used_code_count_and_lock_it(client, verified_user, outbox):
    client.post(RESET, json={"email": EMAIL})
    code = outbox.code("email", EMAIL)
    assert client.post(CONFIRM, json=new_password(email=EMAIL, code=code)).status_code == 200
    bad = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert_error(client.post(CHECK, json={"email": EMAIL, "code": bad}), 400, "invalid_code")
    with client.application.app_context(), \
            client.application.extensions["ports"].uow() as uow:
        user = uow.users.get_by_email(EMAIL)
        assert uow.codes.latest(user.id, [CodePurpose.RESET_EMAIL]).attempts == 5


def test_a_verification_link_is_not_a_reset_link(client, register, outbox):
    register(EMAIL)
    token = outbox.link_token(EMAIL, "/verify/")
    assert_error(client.post(CONFIRM, json=new_password(token=token)), 400)


def statements_of(app, send) -> list[str]:
    """The SQL statements (parameterised: no values) that ``send`` makes the app run."""
    from sqlalchemy import event

    from webapp.extensions import db

    seen: list[str] = []

    def record(_conn, _cursor, statement, *_rest) -> None:  # noqa: ANN001
        seen.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        send()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


@pytest.mark.parametrize("path", [CHECK, CONFIRM])
def test_a_code_for_an_unknown_address_costs_the_same_queries(app, client, verified_user,
                                                              path):
    # The time of the answer must not tell which addresses have an account: the code
    # look-up is made for an unknown address too (Jane has no reset code to count on).
    def attempt(email):
        def send():
            assert_error(client.post(path, json=new_password(email=email, code="123456")), 400)
        return statements_of(app, send)

    client.post(path, json=new_password(email=EMAIL, code="123456"))  # warm caches alike
    client.post(path, json=new_password(email="nobody@example.com", code="123456"))
    known, unknown = attempt(EMAIL), attempt("nobody@example.com")
    assert known == unknown and any("one_time_codes" in s for s in unknown), (known, unknown)
