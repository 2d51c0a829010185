"""GET sessions/, DELETE sessions/<id>/, POST sessions/revoke-others/ and GET activity/
over HTTP, on both session stores."""

from __future__ import annotations

from flask import Flask

from tests.conftest import PASSWORD
from tests.integration.api.conftest import assert_error, bearer
from tests.integration.sessions.conftest import CHROME_MAC, FIREFOX
from tests.integration.web.conftest import login as web_login


def api_login(app: Flask, email: str = "jane@example.com", agent: str = "curl/8.5") -> dict:
    response = app.test_client().post("/api/auth/login/",
                                      json={"email": email, "password": PASSWORD},
                                      headers={"User-Agent": agent})
    assert response.status_code == 200, response.json
    return response.json["tokens"]


def listed(client, tokens: dict) -> list[dict]:
    response = client.get("/api/auth/sessions/", headers=bearer(tokens["access"]))
    assert response.status_code == 200, response.json
    return response.json


def test_one_list_of_browsers_and_api_clients(app, client, verified_user):
    email, password = verified_user
    laptop = app.test_client()
    laptop.environ_base["HTTP_USER_AGENT"] = FIREFOX
    web_login(laptop, email, password)
    tokens = api_login(app, agent=CHROME_MAC)
    sessions = listed(client, tokens)
    assert [(s["kind"], s["device"], s["current"]) for s in sessions] == [
        ("api", "Chrome on Mac OS X", True), ("browser", "Firefox on Linux", False)]
    assert set(sessions[0]) == {"id", "kind", "created_at", "last_seen_at", "ip",
                                "user_agent", "device", "current"}
    assert sessions[1]["ip"] == "127.0.0.1" and sessions[1]["user_agent"] == FIREFOX
    assert sessions[0]["created_at"] > sessions[1]["created_at"]


def test_ending_an_api_login_stops_its_refresh_and_access_tokens_at_once(app, client,
                                                                        verified_user):
    mine, theirs = api_login(app), api_login(app)
    [other] = [s["id"] for s in listed(client, mine) if not s["current"]]
    response = client.delete(f"/api/auth/sessions/{other}/", headers=bearer(mine["access"]))
    assert response.status_code == 204 and response.data == b""
    assert_error(client.get("/api/auth/me/", headers=bearer(theirs["access"])), 401)
    assert_error(client.post("/api/auth/token/refresh/", json={"refresh": theirs["refresh"]}),
                 401)
    assert client.get("/api/auth/me/", headers=bearer(mine["access"])).status_code == 200
    assert [s["current"] for s in listed(client, mine)] == [True]


def test_ending_a_browser_session_from_the_api_signs_it_out(app, client, verified_user):
    email, password = verified_user
    laptop = app.test_client()
    web_login(laptop, email, password)
    tokens = api_login(app)
    [browser] = [s["id"] for s in listed(client, tokens) if s["kind"] == "browser"]
    assert client.delete(f"/api/auth/sessions/{browser}/",
                         headers=bearer(tokens["access"])).status_code == 204
    assert laptop.get("/account").status_code == 302


def test_an_api_login_is_listed_with_the_address_it_was_last_refreshed_from(app, client,
                                                                           verified_user):
    """As a browser session shows the address it was last seen from: a refresh token
    used from somewhere else (stolen, say) shows that address, not the login's."""
    tokens = api_login(app)
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    refreshed = elsewhere.post("/api/auth/token/refresh/", json={"refresh": tokens["refresh"]})
    assert refreshed.status_code == 200, refreshed.json
    [login] = listed(client, refreshed.json)
    assert login["ip"] == "198.51.100.7" and login["last_seen_at"] >= login["created_at"]


def test_another_users_id_is_404_like_no_such_id_and_bad_ids_are_400(app, client,
                                                                    verified_user, register,
                                                                    outbox):
    jane = api_login(app)
    register("bob@example.com")
    client.post("/api/auth/email-verify/", json={
        "email": "bob@example.com", "code": outbox.code("email", "bob@example.com")})
    bob = api_login(app, "bob@example.com")
    [bobs] = [s["id"] for s in listed(client, bob)]
    foreign = client.delete(f"/api/auth/sessions/{bobs}/", headers=bearer(jane["access"]))
    missing = client.delete(f"/api/auth/sessions/{'0' * 32}/", headers=bearer(jane["access"]))
    assert_error(foreign, 404, "not_found")
    assert foreign.json == missing.json and missing.status_code == 404
    for bad in ("x", "0" * 33, "ABCDEF" + "0" * 26, "%00" + "0" * 29):
        response = client.delete(f"/api/auth/sessions/{bad}/", headers=bearer(jane["access"]))
        assert response.status_code in (400, 404), (bad, response.status_code)
        assert response.is_json
    assert_error(client.delete(f"/api/auth/sessions/{bobs}/"), 401)
    assert client.get("/api/auth/me/", headers=bearer(bob["access"])).status_code == 200


def test_revoke_others_keeps_the_caller(app, client, verified_user):
    email, password = verified_user
    laptop = app.test_client()
    web_login(laptop, email, password)
    mine, theirs = api_login(app), api_login(app)
    response = client.post("/api/auth/sessions/revoke-others/", headers=bearer(mine["access"]))
    assert response.status_code == 204
    assert [s["current"] for s in listed(client, mine)] == [True]
    assert laptop.get("/account").status_code == 302
    assert client.get("/api/auth/me/", headers=bearer(theirs["access"])).status_code == 401


def test_activity_lists_what_happened_newest_first_and_pages(app, client, verified_user):
    email, _ = verified_user
    client.post("/api/auth/login/", json={"email": email, "password": "wrong password!"})
    mine = api_login(app)
    api_login(app, agent=FIREFOX)
    [other] = [s["id"] for s in listed(client, mine) if not s["current"]]
    client.delete(f"/api/auth/sessions/{other}/", headers=bearer(mine["access"]))
    response = client.get("/api/auth/activity/", headers=bearer(mine["access"]))
    assert response.status_code == 200
    events = [e["event"] for e in response.json]
    assert events[:4] == ["session_ended", "new_device_signin", "authn_login_success",
                          "authn_login_success"]
    assert "authn_login_fail" in events and "user_verified" in events
    assert set(response.json[0]) == {"event", "at", "ip", "user_agent", "device", "by_staff"}
    assert "Link" not in response.headers
    for bad in ("0", "-1", "abc", "99999999"):
        assert_error(client.get(f"/api/auth/activity/?page={bad}",
                                headers=bearer(mine["access"])), 400)
    assert client.get("/api/auth/activity/?page=2", headers=bearer(mine["access"])).json == []


def test_activity_has_a_next_link_while_there_are_older_events(app, client, verified_user):
    email, _ = verified_user
    for _ in range(50):
        client.post("/api/auth/login/", json={"email": email, "password": "wrong password!"})
    tokens = api_login(app)
    first = client.get("/api/auth/activity/", headers=bearer(tokens["access"]))
    assert len(first.json) == 50
    assert first.headers["Link"] == '<http://localhost/api/auth/activity/?page=2>; rel="next"'
    second = client.get("/api/auth/activity/?page=2", headers=bearer(tokens["access"]))
    assert 0 < len(second.json) < 50 and "Link" not in second.headers
