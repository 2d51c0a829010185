"""POST /api/auth/register/: the same answer for new and taken addresses, validation, and
fields a client must never be able to set."""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import PASSWORD
from tests.integration.api.conftest import (
    PHONE,
    assert_error,
    comparable,
    count_users,
    stored_user,
)

REGISTER = "/api/auth/register/"


def test_a_new_address_gets_201_and_a_verification_email(client, app, outbox):
    response = client.post(REGISTER, json={"email": "  Jane@Example.COM ", "password": PASSWORD,
                                           "first_name": "Jane", "last_name": "Doe"})
    assert response.status_code == 201
    assert set(response.json) == {"detail"}
    user = stored_user(app, email="jane@example.com")
    assert (user.first_name, user.last_name, user.email_verified_at) == ("Jane", "Doe", None)
    assert user.password_hash.startswith("$argon2id$")
    assert len(outbox.code("email", "jane@example.com")) == 6


def test_taken_address_gets_the_same_answer_and_its_owner_is_told(client, app, verified_user,
                                                                  outbox):
    email, _ = verified_user
    new = client.post(REGISTER, json={"email": "someone.new@example.com", "password": PASSWORD})
    taken = client.post(REGISTER, json={"email": email.upper(), "password": "another passphrase"})
    assert comparable(taken) == comparable(new)
    assert count_users(app) == 2
    assert outbox.last("email", email).payload["template"] == "account_exists"
    # The owner's password is untouched.
    assert client.post("/api/auth/token/", json={"email": email, "password": PASSWORD}
                       ).status_code == 200


def test_unverified_owner_gets_a_finish_signup_instead(client, app, register, outbox):
    register("jane@example.com")
    first = outbox.code("email", "jane@example.com")
    again = client.post(REGISTER, json={"email": "jane@example.com", "password": PASSWORD})
    assert again.status_code == 201
    assert count_users(app) == 1
    assert [m.payload["template"] for m in outbox.all("email")] == ["verify", "finish_signup"]
    assert "/reset/" in outbox.last("email", "jane@example.com").payload["text"]
    # The first verification code is left alone (no new one was issued).
    kept = client.post("/api/auth/email-verify/", json={"email": "jane@example.com",
                                                        "code": first})
    assert kept.status_code == 200


def test_taken_phone_gets_the_same_answer(client, app, phone_user, outbox):
    new = client.post(REGISTER, json={"phone": "+14155550124", "password": PASSWORD})
    taken = client.post(REGISTER, json={"phone": "(415) 555-0123", "password": PASSWORD})
    assert comparable(taken) == comparable(new)
    assert outbox.last("sms", PHONE).payload["template"] == "account_exists"
    assert count_users(app) == 2


PRIVILEGED = {
    "is_admin": True, "is_staff": True, "is_superuser": True, "is_verified": True,
    "is_active": False, "email_verified": True, "email_verified_at": "2020-01-01T00:00:00Z",
    "phone_verified_at": "2020-01-01T00:00:00Z", "stripe_customer_id": "cus_attacker",
    "id": 4242, "uniquifier": "known", "password_hash": "$argon2id$forged",
}


def test_privileged_and_unknown_fields_are_never_applied(client, app):
    response = client.post(REGISTER, json={"email": "mallory@example.com", "password": PASSWORD,
                                           **PRIVILEGED})
    assert response.status_code in (201, 400)
    user = stored_user(app, email="mallory@example.com")
    if response.status_code == 400:  # rejecting them outright is as good as ignoring them
        assert user is None
        return
    assert user.is_staff is False
    assert user.is_active is True
    assert user.email_verified_at is None and user.phone_verified_at is None
    assert user.stripe_customer_id is None
    assert user.id != 4242
    assert user.uniquifier != "known"
    assert user.password_hash.startswith("$argon2id$v=")
    login = client.post("/api/auth/login/", json={"email": "mallory@example.com",
                                                  "password": PASSWORD})
    assert_error(login, 403, "unverified")


@pytest.mark.parametrize("password", [
    pytest.param("short1!", id="too-short"),
    pytest.param("ab\u0301cdef", id="seven-code-points"),
    pytest.param("x" * 129, id="too-long"),
    pytest.param("x" * 5000, id="far-too-long"),
    pytest.param("password1", id="common"),
    pytest.param("Qwertyuiop", id="common-any-case"),
    pytest.param("jane.doe@example.com", id="the-email"),
    pytest.param("jane.doe2024", id="close-to-the-email"),
    pytest.param("", id="empty"),
])
def test_weak_passwords_are_refused_and_nothing_is_stored(client, app, password):
    response = client.post(REGISTER, json={"email": "jane.doe@example.com", "password": password})
    body = assert_error(response, 400, "invalid")
    assert body["errors"]["password"]
    assert stored_user(app, email="jane.doe@example.com") is None


@pytest.mark.parametrize("password", ["x" * 128 + "", "é" * 8, "correct horse battery staple"])
def test_long_and_unicode_passwords_within_the_limits_are_accepted(client, app, password):
    response = client.post(REGISTER, json={"email": "jane@example.com", "password": password})
    assert response.status_code == 201, response.json


@pytest.mark.parametrize(("body", "field"), [
    ({"email": "not-an-email"}, "email"),
    ({"email": "jane@"}, "email"),
    ({"email": "a" * 250 + "@example.com"}, "email"),
    ({"email": "jane\x00@example.com"}, "email"),
    ({"phone": "12"}, "phone"),
    ({"phone": "+1 415 555"}, "phone"),
    ({"phone": "not a number"}, "phone"),
    ({}, "email"),
    ({"email": "", "phone": ""}, "email"),
    ({"email": "jane@example.com", "first_name": "J" * 101}, "first_name"),
    ({"email": "jane@example.com", "last_name": "D" * 101}, "last_name"),
    ({"email": "jane@example.com", "first_name": "Ja\x00ne"}, "first_name"),
    ({"email": "jane@example.com", "last_name": "Doe\x07"}, "last_name"),
])
def test_bad_addresses_and_names_are_refused(client, app, body, field):
    response = client.post(REGISTER, json={"password": PASSWORD, **body})
    assert assert_error(response, 400, "invalid")["errors"][field]
    assert count_users(app) == 0


def test_an_address_our_email_cannot_reach_is_refused_before_anything_is_stored(
        client, app, outbox):
    # It used to be accepted (201) and its verification email then failed on every try.
    response = client.post(REGISTER, json={"email": "jos\u00e9@example.com",
                                           "password": PASSWORD})
    (message,) = assert_error(response, 400, "invalid")["errors"]["email"]
    assert "'\u00e9' before the @-sign" in message
    assert count_users(app) == 0
    # A domain in any script is fine: the email goes to its ASCII form.
    response = client.post(REGISTER, json={"email": "jose@b\u00fccher.example",
                                           "password": PASSWORD})
    assert response.status_code == 201
    assert len(outbox.code("email", "jose@b\u00fccher.example")) == 6


def test_every_problem_is_reported_at_once(client):
    response = client.post(REGISTER, json={"email": "nope", "phone": "12", "password": "short"})
    assert set(assert_error(response, 400)["errors"]) == {"email", "phone", "password"}


@pytest.mark.parametrize("national", ["(415) 555-0123", "415-555-0123", "4155550123",
                                      " +1 415 555 0123 "])
def test_phone_is_stored_in_e164(client, app, outbox, national):
    assert client.post(REGISTER, json={"phone": national, "password": PASSWORD}).status_code == 201
    assert stored_user(app, phone=PHONE) is not None
    assert len(outbox.code("sms", PHONE)) == 6


def test_email_and_phone_together_get_both_messages(client, app, outbox):
    response = client.post(REGISTER, json={"email": "jane@example.com", "phone": PHONE,
                                           "password": PASSWORD})
    assert response.status_code == 201
    user = stored_user(app, email="jane@example.com")
    assert user.phone == PHONE
    assert outbox.code("email", "jane@example.com") and outbox.code("sms", PHONE)


def test_registration_by_invitation_only_is_403(app, client):
    services = app.extensions["services"]
    services.accounts.policy = dataclasses.replace(services.accounts.policy,
                                                   registration_open=False)
    response = client.post(REGISTER, json={"email": "jane@example.com", "password": PASSWORD})
    assert_error(response, 403, "registration_closed")
    assert count_users(app) == 0
