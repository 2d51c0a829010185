"""Refusals that say what to change. The seed's examples sent the emailed 6-digit code as
``token``: a clear 400 that says what to send, not "invalid or expired" (the code was
right). A disguised name or a phone extension: refused, with the reason."""

from __future__ import annotations

import pytest

EMAIL = "jane@example.com"


def test_a_verification_code_sent_as_token_says_to_send_email_and_code(client, register,
                                                                       outbox):
    path = "/api/auth/email-verify/"
    register(EMAIL)
    code = outbox.code("email", EMAIL)
    refused = client.post(path, json={"token": code})
    assert refused.status_code == 400
    assert refused.json["code"] == "code_needs_address"
    assert '"code"' in refused.json["detail"] and '"email"' in refused.json["detail"]
    assert refused.json["errors"]["token"] == [refused.json["detail"]]
    # Nothing was spent or counted: the same code, sent the right way, works.
    assert client.post(path, json={"email": EMAIL, "code": code}).status_code == 200


@pytest.mark.parametrize("path", ["/api/auth/password-reset/verify/",
                                  "/api/auth/password-reset/confirm/"])
def test_a_reset_code_sent_as_token_says_to_send_an_address_and_code(client, verified_user,
                                                                     outbox, path):
    client.post("/api/auth/password-reset/", json={"email": EMAIL})
    code = outbox.code("email", EMAIL)  # the newest email: the reset
    body = {"token": code, "new_password": "a new long passphrase",
            "confirm_password": "a new long passphrase"}
    refused = client.post(path, json=body)
    assert refused.status_code == 400 and refused.json["code"] == "code_needs_address"
    assert '"email" or "phone"' in refused.json["detail"]
    right = client.post(path, json={**body, "token": None, "email": EMAIL, "code": code})
    assert right.status_code == 200, right.json


def test_a_real_but_wrong_token_is_still_just_invalid(client):
    refused = client.post("/api/auth/email-verify/", json={"token": "not-a-real-token"})
    assert refused.status_code == 400 and refused.json["code"] != "code_needs_address"


def test_registration_says_what_is_wrong_with_a_disguised_name_or_an_extension(client):
    disguised = client.post("/api/auth/register/", json={
        "email": EMAIL, "password": "correct horse battery staple",
        "first_name": "Jane\u202eeoD"})
    assert disguised.status_code == 400
    assert "text-direction" in disguised.json["errors"]["first_name"][0]
    extension = client.post("/api/auth/register/", json={
        "phone": "+1 415 555 0123 ext. 12", "password": "correct horse battery staple"})
    assert extension.status_code == 400
    assert "extension (12)" in extension.json["errors"]["phone"][0]
