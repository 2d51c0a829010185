"""An erased account's id is never given to the next one (SQLite reused the largest id
until migration 0012 and the models' sqlite_autoincrement), and nothing the erased
account held (its tokens, its cached row) works for whoever registers after it."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, Outbox
from tests.integration.api.conftest import bearer, stored_user

REFRESH = "/api/auth/token/refresh/"


def _signed_up(app: Flask, client: FlaskClient, email: str) -> dict[str, str]:
    """Register, verify and log in ``email``: its tokens."""
    assert client.post("/api/auth/register/",
                       json={"email": email, "password": PASSWORD}).status_code == 201
    code = Outbox(app).code("email", email)
    assert client.post("/api/auth/email-verify/",
                       json={"email": email, "code": code}).status_code == 200
    answer = client.post("/api/auth/login/", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.json
    return answer.json["tokens"]


def test_the_next_account_gets_a_new_id_and_nothing_of_the_erased_one(app_factory):
    app = app_factory(ACCOUNT_DELETION_GRACE=0)
    client = app.test_client()
    _signed_up(app, client, "a@example.com")
    old = _signed_up(app, client, "b@example.com")
    erased = stored_user(app, email="b@example.com")
    me = client.get("/api/auth/me/", headers=bearer(old["access"]))
    assert me.status_code == 200 and me.json["id"] == erased.id  # also in the user cache
    assert client.delete("/api/auth/me/", headers=bearer(old["access"])).status_code == 202
    assert stored_user(app, email="b@example.com") is None  # erased at once (no grace)

    new = _signed_up(app, client, "c@example.com")
    newcomer = stored_user(app, email="c@example.com")
    assert newcomer.id > erased.id  # never the erased account's id

    assert client.get("/api/auth/me/", headers=bearer(old["access"])).status_code == 401
    assert client.post(REFRESH, json={"refresh": old["refresh"]}).status_code == 401
    mine = client.get("/api/auth/me/", headers=bearer(new["access"]))
    assert mine.status_code == 200 and mine.json["email"] == "c@example.com"
    assert client.post(REFRESH, json={"refresh": new["refresh"]}).status_code == 200
