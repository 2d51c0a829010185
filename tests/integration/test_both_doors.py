"""One sign-in, two doors: the JSON API and the login page drive the same pipeline, so
each outcome is the same event in the audit log and the same refusal, whichever door.

Parametrised over the doors rather than written twice (as allauth's tests run over
its HTML and headless clients)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from tests.conftest import PASSWORD
from tests.helpers.app import audit_rows, csrf_token


@dataclass(frozen=True)
class Door:
    name: str
    signed_in: int
    refused: int
    unverified: int

    def sign_in(self, client: FlaskClient, email: str, password: str) -> int:
        if self.name == "api":
            return client.post("/api/auth/login/", json={
                "email": email, "password": password}).status_code
        return client.post("/login", data={
            "csrf_token": csrf_token(client, "/login"), "identifier": email,
            "password": password}).status_code


API = Door("api", signed_in=200, refused=401, unverified=403)
PAGE = Door("page", signed_in=303, refused=422, unverified=422)


@pytest.fixture(params=[API, PAGE], ids=lambda door: door.name)
def door(request: pytest.FixtureRequest) -> Door:
    return request.param


def test_a_right_password_signs_in_and_is_recorded_alike(app, client, verified_user, door):
    email, password = verified_user
    assert door.sign_in(client, email, password) == door.signed_in
    [event] = audit_rows(app, "authn_login_success")
    assert event.user_id is not None and event.data == {}


def test_wrong_and_unknown_are_one_refusal_recorded_alike(app, client, verified_user, door):
    email, _ = verified_user
    assert door.sign_in(client, email, "not the password at all") == door.refused
    assert door.sign_in(client, "nobody@example.com", PASSWORD) == door.refused
    reasons = [event.data["reason"] for event in audit_rows(app, "authn_login_fail")]
    assert reasons == ["wrong_password", "unknown_account"]
    assert audit_rows(app, "authn_login_success") == []


def test_an_unverified_account_is_told_only_after_the_right_password(app, client, register,
                                                                     door):
    register("new@example.com")
    assert door.sign_in(client, "new@example.com", "not the password at all") == door.refused
    assert door.sign_in(client, "new@example.com", PASSWORD) == door.unverified
    assert audit_rows(app, "authn_login_success") == []
