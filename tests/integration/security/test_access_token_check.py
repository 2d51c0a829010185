"""The per-request access-token check (one read, no transaction on PostgreSQL) still
sees revocation at once: a password change ends every earlier access token."""

from __future__ import annotations


def test_access_token_stops_working_as_soon_as_the_password_changes(
        client, tokens, verified_user, outbox):  # noqa: ANN001
    email, _ = verified_user
    bearer = {"Authorization": f"Bearer {tokens['access']}"}
    me = client.get("/api/auth/me/", headers=bearer)
    assert me.status_code == 200 and me.json["email"] == email

    assert client.post("/api/auth/password-reset/", json={"email": email}).status_code == 202
    token = outbox.link_token(email, "/reset/")
    assert client.post("/api/auth/password-reset/confirm/", json={
        "token": token, "new_password": "a brand new passphrase",
        "confirm_password": "a brand new passphrase"}).status_code == 200

    assert client.get("/api/auth/me/", headers=bearer).status_code == 401


def test_a_refresh_token_is_not_an_access_token(client, tokens) -> None:  # noqa: ANN001
    bearer = {"Authorization": f"Bearer {tokens['refresh']}"}
    assert client.get("/api/auth/me/", headers=bearer).status_code == 401
