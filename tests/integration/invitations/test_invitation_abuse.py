"""Invitations by users who are not staff (INVITATIONS_BY_USERS=true), as an abuser tries them:
finding out who has an account, and mailing one address (or many) without end."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Outbox
from tests.helpers.app import audit_rows, bearer, make_user

PER_REQUEST_HEADERS = {"X-Request-ID", "Date"}


@pytest.fixture
def users_invite(app_factory) -> Any:
    """``users_invite(**overrides)``: an app where users invite, with a verified user
    (pal), a staff member (boss) and an account at taken@example.com."""
    def build(**overrides: Any) -> Flask:
        app = app_factory(INVITATIONS_BY_USERS=True, **overrides)
        for email, staff in (("pal@example.com", False), ("boss@example.com", True),
                             ("taken@example.com", False)):
            make_user(app, email, staff=staff)
        return app
    return build


def invite(client, auth, email: str):
    return client.post("/api/auth/invitations/", json={"email": email}, headers=auth)


def seen(response) -> tuple[int, dict[str, Any], set[str]]:
    """What tells two answers apart, but the address and the values that run on
    (id, timestamps: checked by the caller) and the per-request headers."""
    body = dict(response.json)
    for key in ("id", "email", "created_at", "expires_at"):
        body.pop(key, None)
    return response.status_code, body, set(response.headers.keys()) - PER_REQUEST_HEADERS


def lifetime(body: dict[str, Any]) -> float:
    return (datetime.fromisoformat(body["expires_at"])
            - datetime.fromisoformat(body["created_at"])).total_seconds()


def test_a_user_cannot_tell_whether_an_address_has_an_account(users_invite):
    app = users_invite()
    client = app.test_client()
    auth = bearer(client, "pal@example.com")
    taken = invite(client, auth, "Taken@Example.com")
    fresh = invite(client, auth, "fresh@example.com")
    assert seen(taken) == seen(fresh)
    assert taken.status_code == 201 and taken.json["state"] == "pending"
    assert taken.json["email"] == "taken@example.com"  # canonical, as for any address
    assert lifetime(taken.json) == lifetime(fresh.json)
    assert fresh.json["id"] == taken.json["id"] + 1  # the refused one is recorded too
    outbox = Outbox(app)
    assert outbox.all("email", "taken@example.com") == []  # its link would be useless
    assert outbox.link_token("fresh@example.com", "/invite/")
    assert [row.data.get("account") for row in audit_rows(app, "user_invited")] == [
        "exists", None]
    # staff are still told
    told = invite(client, bearer(client, "boss@example.com"), "taken@example.com")
    assert told.status_code == 400
    assert told.json["errors"]["email"] == ["This address already has an account."]


def test_a_users_invitations_to_one_address_end_in_the_same_429(users_invite):
    app = users_invite(RATELIMIT_ENABLED=True)
    client = app.test_client()
    auth = bearer(client, "pal@example.com")
    answers = {}
    for address in ("taken@example.com", "fresh@example.com"):
        variants = [address, address.upper(), address.title(), address]
        answers[address] = [invite(client, auth, v) for v in variants]
    for address, replies in answers.items():
        assert [r.status_code for r in replies] == [201, 201, 201, 429], address
        assert 3500 < int(replies[-1].headers["Retry-After"]) <= 3600
    taken, fresh = answers["taken@example.com"], answers["fresh@example.com"]
    assert [seen(r)[:2] for r in taken] == [seen(r)[:2] for r in fresh]
    assert taken[-1].json == {"code": "throttled", "detail": taken[-1].json["detail"]}
    assert len(Outbox(app).all("email", "fresh@example.com")) == 3
    # another user does not get round it; staff are not stopped by it
    make_user(app, "friend@example.com")
    assert invite(client, bearer(client, "friend@example.com"),
                  "fresh@example.com").status_code == 429
    assert invite(client, bearer(client, "boss@example.com"),
                  "fresh@example.com").status_code == 201


def test_invitations_are_limited_per_client_address(users_invite):
    app = users_invite(RATELIMIT_ENABLED=True, RATELIMIT_INVITE="3/minute")
    client = app.test_client()
    pal, boss = bearer(client, "pal@example.com"), bearer(client, "boss@example.com")
    statuses = [invite(client, pal, f"friend{i}@example.com").status_code for i in range(3)]
    refused = invite(client, pal, "friend9@example.com")
    assert statuses == [201] * 3 and refused.status_code == 429
    assert refused.json["code"] == "throttled" and int(refused.headers["Retry-After"]) > 0
    # the budget is the client address's, whoever is signed in
    assert invite(client, boss, "colleague@example.com").status_code == 429
    assert len(Outbox(app).all("email")) == 3


def test_a_users_invitations_are_limited_whatever_client_address_they_use(users_invite):
    app = users_invite(RATELIMIT_ENABLED=True, RATELIMIT_INVITE_PER_USER="2/day")
    client = app.test_client()
    pal = bearer(client, "pal@example.com")

    def from_address(auth, email: str, n: int):
        return client.post("/api/auth/invitations/", json={"email": email}, headers=auth,
                           environ_base={"REMOTE_ADDR": f"198.51.100.{n}"})

    sent = [from_address(pal, f"friend{n}@example.com", n).status_code for n in range(2)]
    refused = from_address(pal, "friend7@example.com", 7)
    assert sent == [201, 201] and refused.status_code == 429
    assert refused.json["code"] == "throttled"
    assert 0 < int(refused.headers["Retry-After"]) <= 24 * 3600
    # the refused address's own budget was not touched, and nothing went out for it
    outbox = Outbox(app)
    assert outbox.all("email", "friend7@example.com") == []
    assert len(outbox.all("email")) == 2
    # the budget is this user's: another user and staff still invite
    make_user(app, "friend@example.com")
    assert from_address(bearer(client, "friend@example.com"), "friend7@example.com",
                        8).status_code == 201
    assert from_address(bearer(client, "boss@example.com"), "other@example.com",
                        9).status_code == 201
