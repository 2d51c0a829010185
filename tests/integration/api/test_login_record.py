"""A login's write on the real database (SQLite; PostgreSQL with TEST_DATABASE_URL, where
it is one guarded statement): last_login_at, one refresh family and one audit row, and
only if the account is still as its password was checked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jwt
import psycopg
import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from tests.conftest import PASSWORD, is_postgres
from tests.fakes import RacingPasswords
from tests.integration.api.conftest import assert_error, bearer, stored_user
from webapp.extensions import db
from webapp.infrastructure.logins import PostgresLogins
from webapp.infrastructure.orm import AuditEventRow, RefreshFamilyRow
from webapp.infrastructure.security import Argon2Hasher
from webapp.infrastructure.sqlite_logins import SqliteLogins

LOGIN = "/api/auth/login/"
NEW_PASSWORD = "a brand new passphrase"


def families(app: Flask, user_id: int) -> list[Any]:
    with app.app_context():
        return list(db.session.scalars(
            select(RefreshFamilyRow).where(RefreshFamilyRow.user_id == user_id)))


def events(app: Flask, user_id: int, kind: str) -> list[Any]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEventRow).where(
            AuditEventRow.user_id == user_id, AuditEventRow.kind == kind)))


def race(app: Flask, change: Callable[[Any], object]) -> None:
    """``change(services)`` lands while the next login checks the password."""
    services = app.extensions["services"]
    ports = app.extensions["ports"]
    ports.passwords = RacingPasswords(ports.passwords, lambda: change(services))


def post_login(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    return client.post(LOGIN, json={"email": email, "password": password},
                       headers={"User-Agent": "login-test/1.0"})


def test_logins_take_the_path_without_the_orm(app):
    logins = app.extensions["services"].signin.logins
    assert isinstance(logins, PostgresLogins if is_postgres() else SqliteLogins)


def test_a_login_writes_last_login_at_one_family_and_one_audit_row(app, client, clock,
                                                                   verified_user):
    email, _ = verified_user
    user = stored_user(app, email=email)
    assert user.last_login_at is None
    response = post_login(client, email)
    assert response.status_code == 200, response.json
    assert stored_user(app, email=email).last_login_at == clock.now()
    [family] = families(app, user.id)
    claims = jwt.decode(response.json["tokens"]["refresh"], options={"verify_signature": False})
    assert (family.id, family.generation, family.revoked_at) == (claims["fam"], 0, None)
    assert (family.created_at, family.user_agent, family.ip) == (
        clock.now(), "login-test/1.0", "127.0.0.1")
    [event] = events(app, user.id, "authn_login_success")
    assert (event.created_at, event.ip, event.user_agent, event.data) == (
        clock.now(), "127.0.0.1", "login-test/1.0", {})
    assert event.request_id == response.headers["X-Request-ID"]


def test_the_password_is_checked_with_no_transaction_open(app, client, verified_user):
    email, _ = verified_user
    seen: list[object] = []

    def open_transactions(services: Any) -> None:
        seen.append(db.session().in_transaction())  # the unit of work's session (SQLite)
        if is_postgres():  # any connection of the app, the login's own included
            seen.append(db.session.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()")))
            db.session.rollback()

    race(app, open_transactions)
    assert post_login(client, email).status_code == 200
    assert seen == ([False, 0] if is_postgres() else [False])


def test_rehash_on_login_still_happens(app, client, verified_user):
    email, _ = verified_user
    old = stored_user(app, email=email).password_hash
    app.extensions["ports"].passwords = Argon2Hasher(memory_cost=8, time_cost=2)
    assert post_login(client, email).status_code == 200
    new = stored_user(app, email=email).password_hash
    assert new != old and ",t=2," in new
    assert post_login(client, email).status_code == 200  # the new hash is the password's
    assert stored_user(app, email=email).password_hash == new
    assert len(families(app, stored_user(app, email=email).id)) == 2


def test_the_tokens_of_a_login_refresh_and_authenticate(client, verified_user):
    email, _ = verified_user
    tokens = post_login(client, email).json["tokens"]
    assert client.get("/api/auth/me/", headers=bearer(tokens["access"])).status_code == 200
    refreshed = client.post("/api/auth/token/refresh/", json={"refresh": tokens["refresh"]})
    assert refreshed.status_code == 200, refreshed.json
    assert client.get("/api/auth/me/",
                      headers=bearer(refreshed.json["access"])).status_code == 200


def test_deactivated_while_the_password_is_checked_fails_the_login(app, client, verified_user):
    email, _ = verified_user
    user = stored_user(app, email=email)
    race(app, lambda services: services.admin.act(None, user.id, "deactivate"))
    assert_error(post_login(client, email), 401, "invalid_credentials")
    assert families(app, user.id) == []
    assert stored_user(app, email=email).last_login_at is None
    assert events(app, user.id, "authn_login_success") == []
    [failure] = events(app, user.id, "authn_login_fail")
    assert failure.data == {"reason": "deactivated"}


def test_password_changed_while_the_old_one_is_checked_fails_the_login(app, client,
                                                                       verified_user):
    email, _ = verified_user
    user = stored_user(app, email=email)
    race(app, lambda services: services.accounts.change_password(
        user.id, PASSWORD, NEW_PASSWORD, NEW_PASSWORD, auth_time=datetime.now(UTC)))
    assert_error(post_login(client, email), 401, "invalid_credentials")
    assert families(app, user.id) == []
    [failure] = events(app, user.id, "authn_login_fail")
    assert failure.data == {"reason": "wrong_password"}
    assert post_login(client, email, NEW_PASSWORD).status_code == 200


def test_logged_out_everywhere_meanwhile_the_login_gets_live_tokens(app, client, verified_user):
    email, _ = verified_user
    user = stored_user(app, email=email)
    race(app, lambda services: services.tokens.revoke_all(user.id))
    response = post_login(client, email)
    assert response.status_code == 200, response.json
    assert stored_user(app, email=email).uniquifier != user.uniquifier
    tokens = response.json["tokens"]
    assert client.get("/api/auth/me/", headers=bearer(tokens["access"])).status_code == 200
    assert client.post("/api/auth/token/refresh/",
                       json={"refresh": tokens["refresh"]}).status_code == 200
    assert len(families(app, user.id)) == 1


def test_a_factor_turned_on_while_the_password_is_checked_asks_for_it(app, client,
                                                                      verified_user):
    """The login's one guarded write also holds the second-factor state the password-only
    sign-in was checked with: turned on in between, the sign-in asks for the code."""
    email, _ = verified_user
    user = stored_user(app, email=email)

    def turn_on_app(services: Any) -> None:
        setup = services.mfa.start_totp(user.id, datetime.now(UTC))
        services.mfa.confirm_totp(user.id, pyotp.TOTP(setup.secret).now())

    race(app, turn_on_app)
    response = post_login(client, email)
    assert response.status_code == 200, response.json
    assert response.json["mfa_required"] is True and "tokens" not in response.json
    assert families(app, user.id) == []
    assert stored_user(app, email=email).last_login_at is None
    assert events(app, user.id, "authn_login_success") == []


@pytest.mark.postgres
def test_a_connection_the_database_dropped_is_replaced_not_reused(app, client, verified_user):
    email, _ = verified_user
    assert post_login(client, email).status_code == 200
    with app.app_context():
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as other:  # as a database restart would
        other.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    statuses = [post_login(client, email).status_code for _ in range(6)]
    # Each dead pooled connection fails one request at most, then is replaced.
    assert statuses[-2:] == [200, 200], statuses
