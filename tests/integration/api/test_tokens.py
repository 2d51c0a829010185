"""Login, the token pair, rotation with reuse detection, token/verify, logout and me/."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.integration.api.conftest import (
    PHONE,
    assert_error,
    bearer,
    comparable,
    login,
)
from webapp.interface.api.schemas import UserOut

REFRESH = "/api/auth/token/refresh/"
VERIFY = "/api/auth/token/verify/"
LOGOUT = "/api/auth/logout/"
ME = "/api/auth/me/"


def test_login_returns_tokens_and_the_user(client, verified_user):
    email, password = verified_user
    response = client.post("/api/auth/login/", json={"email": " JANE@example.com",
                                                     "password": password})
    assert response.status_code == 200
    assert set(response.json) == {"tokens", "user"}
    assert set(response.json["tokens"]) == {"access", "refresh"}
    user = response.json["user"]
    assert set(user) == set(UserOut.model_fields)
    assert (user["email"], user["first_name"], user["is_verified"]) == (email, "Jane", True)
    assert "password_hash" not in user and "uniquifier" not in user


def test_token_endpoint_has_the_simplejwt_shape(client, verified_user):
    email, password = verified_user
    response = client.post("/api/auth/token/", json={"email": email, "password": password})
    assert response.status_code == 200
    assert set(response.json) == {"access", "refresh"}
    assert client.get(ME, headers=bearer(response.json["access"])).json["email"] == email


def test_login_by_phone(client, phone_user):
    pair = login(client, phone="(415) 555-0123")
    assert client.get(ME, headers=bearer(pair["access"])).json["phone"] == PHONE


@pytest.mark.parametrize("path", ["/api/auth/login/", "/api/auth/token/"])
def test_unknown_user_and_wrong_password_get_one_identical_401(client, verified_user, path):
    email, _ = verified_user
    wrong = client.post(path, json={"email": email, "password": "not the password"})
    unknown = client.post(path, json={"email": "nobody@example.com", "password": PASSWORD})
    assert_error(wrong, 401, "invalid_credentials")
    assert comparable(wrong) == comparable(unknown)
    unknown_phone = client.post(path, json={"phone": "+14155550199", "password": PASSWORD})
    assert comparable(unknown_phone) == comparable(wrong)


@pytest.mark.parametrize("path", ["/api/auth/login/", "/api/auth/token/"])
def test_unverified_is_403_only_after_the_right_password(client, register, path):
    register("jane@example.com")
    wrong = client.post(path, json={"email": "jane@example.com", "password": "not the password"})
    unknown = client.post(path, json={"email": "nobody@example.com", "password": "x" * 12})
    assert comparable(wrong)[:2] == comparable(unknown)[:2]
    assert_error(wrong, 401, "invalid_credentials")
    right = client.post(path, json={"email": "jane@example.com", "password": PASSWORD})
    assert_error(right, 403, "unverified")


@pytest.mark.parametrize("body", [
    {"password": PASSWORD},
    {"email": "jane@example.com", "phone": PHONE, "password": PASSWORD},
    {"email": "jane@example.com"},
    {"email": "not an email", "password": PASSWORD},
])
def test_login_needs_exactly_one_identifier_and_a_password(client, verified_user, body):
    assert_error(client.post("/api/auth/login/", json=body), 400, "invalid")


# --- refresh -----------------------------------------------------------------------------


def test_refresh_rotates_and_spends_the_old_token(client, tokens):
    response = client.post(REFRESH, json={"refresh": tokens["refresh"]})
    assert response.status_code == 200
    assert set(response.json) == {"access", "refresh"}
    assert response.json["refresh"] != tokens["refresh"]
    assert client.get(ME, headers=bearer(response.json["access"])).status_code == 200
    # Spent: within the grace for racing tabs it is refused, the family lives on.
    assert_error(client.post(REFRESH, json={"refresh": tokens["refresh"]}), 401)
    assert client.post(REFRESH, json={"refresh": response.json["refresh"]}).status_code == 200


def test_reuse_of_a_spent_token_revokes_the_whole_family(client, clock, verified_user):
    email, _ = verified_user
    first = login(client, email=email)
    other_login = login(client, email=email)
    second = client.post(REFRESH, json={"refresh": first["refresh"]}).json
    third = client.post(REFRESH, json={"refresh": second["refresh"]}).json
    clock.advance(seconds=30)  # past the grace: this is a stolen token being replayed
    assert_error(client.post(REFRESH, json={"refresh": first["refresh"]}), 401, "token_reused")
    assert_error(client.post(REFRESH, json={"refresh": third["refresh"]}), 401)
    assert_error(client.post(VERIFY, json={"token": third["refresh"]}), 401)
    # Another login (another family) is not affected.
    assert client.post(REFRESH, json={"refresh": other_login["refresh"]}).status_code == 200


def test_reuse_also_ends_the_access_tokens_of_the_family(client, clock, verified_user):
    """The thief who refreshed first holds a new pair: once the victim's replay shows the
    theft, the thief's access token stops at its next check, not 15 minutes later."""
    email, _ = verified_user
    victim = login(client, email=email)
    other_login = login(client, email=email)
    thief = client.post(REFRESH, json={"refresh": victim["refresh"]}).json
    assert client.get(ME, headers=bearer(thief["access"])).status_code == 200
    clock.advance(seconds=30)
    assert_error(client.post(REFRESH, json={"refresh": victim["refresh"]}), 401, "token_reused")
    assert_error(client.get(ME, headers=bearer(thief["access"])), 401)
    assert_error(client.get(ME, headers=bearer(victim["access"])), 401)
    assert_error(client.get("/api/auth/sessions/", headers=bearer(thief["access"])), 401)
    assert client.get(ME, headers=bearer(other_login["access"])).status_code == 200


@pytest.mark.parametrize("token", ["access", "garbage", "empty", "tampered"])
def test_refresh_refuses_anything_but_a_live_refresh_token(client, tokens, token):
    value = {"access": tokens["access"], "garbage": "not.a.jwt", "empty": "",
             "tampered": tokens["refresh"][:-2] + ("AA" if not tokens["refresh"].endswith("AA")
                                                   else "BB")}[token]
    assert_error(client.post(REFRESH, json={"refresh": value}), 401)
    assert client.post(REFRESH, json={"refresh": tokens["refresh"]}).status_code == 200


# --- verify ------------------------------------------------------------------------------


def test_verify_accepts_live_access_and_refresh_tokens(client, tokens):
    for token in (tokens["access"], tokens["refresh"]):
        response = client.post(VERIFY, json={"token": token})
        assert response.status_code == 200
        assert response.json == {}


def test_verify_refuses_revoked_spent_and_garbage_tokens(client, tokens):
    new = client.post(REFRESH, json={"refresh": tokens["refresh"]}).json
    assert_error(client.post(VERIFY, json={"token": tokens["refresh"]}), 401)  # spent
    assert client.post(LOGOUT, json={"refresh": new["refresh"]}).status_code == 204
    assert_error(client.post(VERIFY, json={"token": new["refresh"]}), 401)  # revoked
    for garbage in ("x", "a.b.c", tokens["access"] + "x"):
        assert_error(client.post(VERIFY, json={"token": garbage}), 401)


def test_verify_refuses_an_expired_access_token(client, clock, verified_user):
    clock.advance(hours=-2)
    stale = login(client, email=verified_user[0])
    assert_error(client.post(VERIFY, json={"token": stale["access"]}), 401, "token_expired")


# --- logout ------------------------------------------------------------------------------


def test_logout_revokes_the_family(client, tokens):
    response = client.post(LOGOUT, json={"refresh": tokens["refresh"]})
    assert response.status_code == 204
    assert response.get_data() == b""
    assert_error(client.post(REFRESH, json={"refresh": tokens["refresh"]}), 401)
    # Logging out twice is harmless.
    assert client.post(LOGOUT, json={"refresh": tokens["refresh"]}).status_code == 204


def test_logout_revokes_the_newest_refresh_token_of_the_family(client, tokens):
    new = client.post(REFRESH, json={"refresh": tokens["refresh"]}).json
    assert client.post(LOGOUT, json={"refresh": tokens["refresh"]}).status_code == 204
    assert_error(client.post(REFRESH, json={"refresh": new["refresh"]}), 401)


@pytest.mark.parametrize("value", ["garbage", "access"])
def test_logout_with_something_else_is_401(client, tokens, value):
    token = tokens["access"] if value == "access" else "not.a.token"
    assert_error(client.post(LOGOUT, json={"refresh": token}), 401)
    assert client.post(REFRESH, json={"refresh": tokens["refresh"]}).status_code == 200


# --- me ----------------------------------------------------------------------------------


def test_me_returns_the_bearer_user(client, tokens, verified_user):
    response = client.get(ME, headers=bearer(tokens["access"]))
    assert response.status_code == 200
    assert response.json["email"] == verified_user[0]
    assert set(response.json) == set(UserOut.model_fields)


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Bearer garbage", "Basic amFuZTpwdw==", "Token abc",
    "Bearer a.b.c", "Bearer \u00e9\u00e9",
])
def test_me_without_a_valid_bearer_token_is_401(client, tokens, header):
    headers = {} if header is None else {"Authorization": header}
    assert_error(client.get(ME, headers=headers), 401)


def test_me_refuses_a_refresh_token_as_access(client, tokens):
    assert_error(client.get(ME, headers=bearer(tokens["refresh"])), 401)


def test_me_refuses_an_expired_access_token(client, clock, verified_user):
    clock.advance(hours=-2)
    stale = login(client, email=verified_user[0])
    body = assert_error(client.get(ME, headers=bearer(stale["access"])), 401)
    assert "expired" in body["detail"]


def test_me_refuses_a_token_signed_with_another_key_or_alg_none(client, tokens):
    import jwt

    claims = jwt.decode(tokens["access"], options={"verify_signature": False})
    forged = jwt.encode(claims, "another-key-" + "y" * 32, algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    for token in (forged, unsigned):
        assert_error(client.get(ME, headers=bearer(token)), 401)


@pytest.mark.parametrize("changes", [{"sub": "me"}, {"sub": 7}, {"sub": "٣"},
                                     {"sub": "9" * 40}, {"gen": "zero"}])
def test_a_token_with_the_right_key_but_foreign_claims_is_401_not_500(app, client, tokens,
                                                                      changes):
    # Something else holding SECRET_KEY (another service sharing it) signs claims this
    # app never makes: each door refuses them as invalid.
    import jwt

    key = app.config["SECRET_KEY"]
    signed = {}
    for kind in ("access", "refresh"):
        claims = jwt.decode(tokens[kind], options={"verify_signature": False})
        signed[kind] = jwt.encode({**claims, **changes}, key, algorithm="HS256")
    assert_error(client.get(ME, headers=bearer(signed["access"])), 401)
    for path, kind in (("/api/auth/token/verify/", "access"),
                       ("/api/auth/token/verify/", "refresh"),
                       ("/api/auth/token/refresh/", "refresh"),
                       ("/api/auth/logout/", "refresh")):
        field = "token" if path.endswith("verify/") else "refresh"
        assert_error(client.post(path, json={field: signed[kind]}), 401)
