"""The takeover from the report, through the API: a mistyped phone beside a verified email.

Whoever owns the mistyped number gets the SMS code, but a code proves who holds the
number, not who owns the account: without the owner's bearer token the right code is
refused (403 ``sign_in_required``), unspent, and the owner signed in uses the same code.
"""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.integration.api.conftest import assert_error, bearer, stored_user

EMAIL = "jane@example.com"
STRANGER = "+14155550199"  # Jane meant another number
VERIFY = "/api/auth/email-verify/"
PHONE_VERIFY = "/api/auth/phone-verify/"


@pytest.fixture
def mistyped(client, register, outbox) -> str:
    """Jane's account: email verified, a stranger's number beside it. The stranger's code."""
    register(EMAIL, phone=STRANGER)
    assert client.post(VERIFY, json={"email": EMAIL,
                                      "code": outbox.code("email", EMAIL)}).status_code == 200
    assert client.post("/api/auth/phone-verify/resend/",
                       json={"phone": STRANGER}).status_code == 202
    return outbox.code("sms", STRANGER)


def login(client, **identifier) -> str:  # noqa: ANN001
    response = client.post("/api/auth/login/", json={**identifier, "password": PASSWORD})
    assert response.status_code == 200, response.json
    return response.json["tokens"]["access"]


def test_the_strangers_code_is_refused_and_the_sms_reset_gives_nothing(client, app, mistyped,
                                                                      outbox):
    body = assert_error(client.post(PHONE_VERIFY, json={"phone": STRANGER, "code": mistyped}),
                        403, "sign_in_required")
    assert "Sign in" in body["detail"]
    assert stored_user(app, email=EMAIL).phone_verified_at is None

    # The rest of the chain: a reset by SMS sends nothing, and no code resets the password.
    texts = len(outbox.all("sms", STRANGER))
    assert client.post("/api/auth/password-reset/", json={"phone": STRANGER}).status_code == 202
    assert len(outbox.all("sms", STRANGER)) == texts
    assert_error(client.post("/api/auth/password-reset/confirm/", json={
        "phone": STRANGER, "code": mistyped, "new_password": "the stranger's passphrase",
        "confirm_password": "the stranger's passphrase"}), 400)
    assert_error(client.post("/api/auth/login/", json={
        "phone": STRANGER, "password": "the stranger's passphrase"}), 401)
    assert login(client, email=EMAIL)  # Jane's password still works


def test_the_owner_with_a_bearer_token_verifies_with_the_same_code(client, app, mistyped):
    for _ in range(6):  # refusals spend nothing and count no wrong try
        assert_error(client.post(PHONE_VERIFY, json={"phone": STRANGER, "code": mistyped}),
                     403, "sign_in_required")
    access = login(client, email=EMAIL)

    response = client.post(PHONE_VERIFY, json={"phone": STRANGER, "code": mistyped},
                           headers=bearer(access))

    assert response.status_code == 200, response.json
    assert response.json["user"]["phone_verified"] is True
    assert stored_user(app, email=EMAIL).phone_verified_at is not None


def test_another_users_bearer_token_is_refused(client, app, register, outbox, mistyped):
    register("mallory@example.com")
    assert client.post(VERIFY, json={"email": "mallory@example.com", "code": outbox.code(
        "email", "mallory@example.com")}).status_code == 200
    other = login(client, email="mallory@example.com")

    assert_error(client.post(PHONE_VERIFY, json={"phone": STRANGER, "code": mistyped},
                             headers=bearer(other)), 403, "sign_in_required")
    assert stored_user(app, email=EMAIL).phone_verified_at is None


def test_a_bad_bearer_token_is_401_and_a_wrong_code_still_400(client, app, mistyped):
    assert_error(client.post(PHONE_VERIFY, json={"phone": STRANGER, "code": mistyped},
                             headers=bearer("not.a.token")), 401)
    wrong = f"{(int(mistyped) + 1) % 1_000_000:06d}"
    assert_error(client.post(PHONE_VERIFY, json={"phone": STRANGER, "code": wrong}),
                 400, "invalid_code")
    assert stored_user(app, email=EMAIL).phone_verified_at is None


def test_an_email_link_beside_a_verified_phone_needs_the_owner(client, app, register, outbox):
    """The pre-hijacker's foot in the door: their verified phone, the victim's email. A
    victim who clicks the unsolicited link does not join the attacker's account."""
    register(EMAIL, phone=STRANGER)
    assert client.post(PHONE_VERIFY, json={
        "phone": STRANGER, "code": outbox.code("sms", STRANGER)}).status_code == 200
    token = outbox.link_token(EMAIL, "/verify/")

    assert_error(client.post(VERIFY, json={"token": token}), 403, "sign_in_required")
    assert_error(client.post(VERIFY, json={"email": EMAIL, "code": outbox.code("email", EMAIL)}),
                 403, "sign_in_required")
    assert stored_user(app, phone=STRANGER).email_verified_at is None

    owner = login(client, phone=STRANGER)  # here the phone's holder is the owner
    assert client.post(VERIFY, json={"token": token},
                       headers=bearer(owner)).json["user"]["email_verified"] is True


def test_a_first_verification_needs_no_token(client, app, register, outbox):
    register(EMAIL, phone=STRANGER)
    response = client.post(PHONE_VERIFY, json={"phone": STRANGER,
                                               "code": outbox.code("sms", STRANGER)})
    assert response.status_code == 200
    assert response.json["user"]["phone_verified"] is True


def test_the_document_lists_the_optional_token_and_the_403(client):
    paths = client.get("/api/openapi.json").json["paths"]
    for path in (VERIFY, PHONE_VERIFY):
        operation = paths[path]["post"]
        assert "403" in operation["responses"] and "401" in operation["responses"]
        assert operation["security"] == [{"bearer": []}, {}]
