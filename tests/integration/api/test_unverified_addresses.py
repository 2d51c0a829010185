"""An address that is not verified, on an account that has a verified one, proves
nothing: it neither signs in nor resets the password (API; the web pages call the same
services). It may be someone else's email, put there to take the account over later, or
a mistyped phone number."""

from __future__ import annotations

from tests.conftest import PASSWORD

PHONE = "+14155550199"
EMAIL = "victim@example.com"


def test_an_unverified_email_beside_a_verified_phone_does_not_sign_in(client, outbox):
    body = {"email": EMAIL, "phone": PHONE, "password": PASSWORD}
    assert client.post("/api/auth/register/", json=body).status_code == 201
    code = outbox.code("sms", PHONE)
    assert client.post("/api/auth/phone-verify/",
                       json={"phone": PHONE, "code": code}).status_code == 200

    by_email = client.post("/api/auth/login/", json={"email": EMAIL, "password": PASSWORD})
    assert by_email.status_code == 403 and by_email.json["code"] == "unverified"
    assert "tokens" not in by_email.json
    wrong = client.post("/api/auth/login/", json={"email": EMAIL, "password": "not it at all"})
    assert wrong.status_code == 401  # "unverified" only after the right password
    by_phone = client.post("/api/auth/login/", json={"phone": PHONE, "password": PASSWORD})
    assert by_phone.status_code == 200 and by_phone.json["tokens"]["access"]

    # Nor does a reset go to the unverified email.
    emails = len(outbox.all("email", EMAIL))
    assert client.post("/api/auth/password-reset/", json={"email": EMAIL}).status_code == 202
    assert len(outbox.all("email", EMAIL)) == emails


def test_a_mistyped_phone_cannot_reset_a_verified_account(client, outbox):
    body = {"email": "jane@example.com", "phone": PHONE, "password": PASSWORD}
    assert client.post("/api/auth/register/", json=body).status_code == 201
    code = outbox.code("email", "jane@example.com")
    assert client.post("/api/auth/email-verify/",
                       json={"email": "jane@example.com", "code": code}).status_code == 200
    texts = len(outbox.all("sms", PHONE))  # the sign-up code, never used

    assert client.post("/api/auth/password-reset/", json={"phone": PHONE}).status_code == 202
    assert len(outbox.all("sms", PHONE)) == texts  # nothing sent to the number
    sign_up_code = outbox.code("sms", PHONE)
    confirm = client.post("/api/auth/password-reset/confirm/", json={
        "phone": PHONE, "code": sign_up_code, "new_password": "a stranger's passphrase",
        "confirm_password": "a stranger's passphrase"})
    assert confirm.status_code == 400
    login = client.post("/api/auth/login/", json={"email": "jane@example.com",
                                                   "password": PASSWORD})
    assert login.status_code == 200  # Jane's password is unchanged


def test_someone_elses_unverified_email_goes_to_its_owner_when_they_sign_up(client, outbox):
    squatter = {"email": EMAIL, "phone": PHONE, "password": "the squatter's passphrase"}
    assert client.post("/api/auth/register/", json=squatter).status_code == 201
    code = outbox.code("sms", PHONE)
    assert client.post("/api/auth/phone-verify/",
                       json={"phone": PHONE, "code": code}).status_code == 200

    mine = "the real owner's passphrase"
    assert client.post("/api/auth/register/",
                       json={"email": EMAIL, "password": mine}).status_code == 201
    code = outbox.code("email", EMAIL)  # the verification of the owner's own account
    verified = client.post("/api/auth/email-verify/", json={"email": EMAIL, "code": code})
    assert verified.status_code == 200 and verified.json["user"]["phone"] is None

    assert client.post("/api/auth/login/",
                       json={"email": EMAIL, "password": mine}).status_code == 200
    assert client.post("/api/auth/login/", json={
        "email": EMAIL, "password": "the squatter's passphrase"}).status_code == 401
    theirs = client.post("/api/auth/login/", json={
        "phone": PHONE, "password": "the squatter's passphrase"})
    assert theirs.status_code == 200 and theirs.json["user"]["email"] is None


def test_a_reset_link_from_before_the_phone_was_proven_does_not_take_the_account(
        client, outbox):
    # Jane mistypes her email at sign-up. Its owner gets the verification email and asks
    # for a reset while nothing is proven; then Jane proves her phone. The stranger's link
    # must not set a password on Jane's account (the same rule as a reset code).
    body = {"email": EMAIL, "phone": PHONE, "password": PASSWORD}
    assert client.post("/api/auth/register/", json=body).status_code == 201
    assert client.post("/api/auth/password-reset/", json={"email": EMAIL}).status_code == 202
    token = outbox.link_token(EMAIL, "/reset/")
    code = outbox.code("sms", PHONE)
    assert client.post("/api/auth/phone-verify/",
                       json={"phone": PHONE, "code": code}).status_code == 200

    check = client.post("/api/auth/password-reset/verify/", json={"token": token})
    assert check.status_code == 400
    stranger = "the stranger's passphrase"
    confirm = client.post("/api/auth/password-reset/confirm/", json={
        "token": token, "new_password": stranger, "confirm_password": stranger})
    assert confirm.status_code == 400
    assert client.post("/api/auth/login/",
                       json={"phone": PHONE, "password": PASSWORD}).status_code == 200
    assert client.post("/api/auth/login/",
                       json={"email": EMAIL, "password": stranger}).status_code == 401


def test_a_code_sent_to_a_mistyped_number_shows_nothing_of_the_account_it_left(
        client, outbox):
    # The stranger who got the sign-up code of Jane's mistyped number, once Jane has moved
    # her phone to her own number, learns nothing by sending that code with the new one.
    body = {"email": "jane@example.com", "phone": PHONE, "password": PASSWORD}
    assert client.post("/api/auth/register/", json=body).status_code == 201
    strangers = outbox.code("sms", PHONE)
    code = outbox.code("email", "jane@example.com")
    assert client.post("/api/auth/email-verify/",
                       json={"email": "jane@example.com", "code": code}).status_code == 200
    login = client.post("/api/auth/login/", json={"email": "jane@example.com",
                                                   "password": PASSWORD})
    auth = {"Authorization": f"Bearer {login.json['tokens']['access']}"}
    mine = "+14155550188"
    assert client.post("/api/auth/phone-change/", headers=auth,
                       json={"new_phone": mine}).status_code == 202
    assert client.post("/api/auth/phone-change/confirm/", headers=auth,
                       json={"code": outbox.code("sms", mine)}).status_code == 200

    answer = client.post("/api/auth/phone-verify/", json={"phone": mine, "code": strangers})
    assert answer.status_code == 400 and answer.json["code"] == "invalid_code"
    assert "user" not in answer.json
