"""The seed's request examples: register, verify email, login, reset password."""

from __future__ import annotations


def test_register_verify_login_and_me(client, register, outbox):
    register("Jane@Example.COM", first_name="Jane")
    code = outbox.code("email", "jane@example.com")

    assert client.post("/api/auth/login/", json={
        "email": "jane@example.com", "password": "correct horse battery staple",
    }).json["code"] == "unverified"

    verified = client.post("/api/auth/email-verify/", json={"email": "jane@example.com",
                                                            "code": code})
    assert verified.status_code == 200
    assert verified.json["user"]["email_verified"] is True

    login = client.post("/api/auth/login/", json={"email": "JANE@example.com",
                                                  "password": "correct horse battery staple"})
    assert login.status_code == 200
    access = login.json["tokens"]["access"]
    me = client.get("/api/auth/me/", headers={"Authorization": f"Bearer {access}"})
    assert me.status_code == 200
    assert me.json["first_name"] == "Jane"


def test_password_reset_by_link(client, verified_user, outbox):
    email, _ = verified_user
    assert client.post("/api/auth/password-reset/", json={"email": email}).status_code == 202
    token = outbox.link_token(email, "/reset/")
    confirm = client.post("/api/auth/password-reset/confirm/", json={
        "token": token, "new_password": "a brand new passphrase",
        "confirm_password": "a brand new passphrase"})
    assert confirm.status_code == 200, confirm.json
    again = client.post("/api/auth/password-reset/confirm/", json={
        "token": token, "new_password": "another new passphrase",
        "confirm_password": "another new passphrase"})
    assert again.status_code == 400
    login = client.post("/api/auth/login/", json={"email": email,
                                                  "password": "a brand new passphrase"})
    assert login.status_code == 200
