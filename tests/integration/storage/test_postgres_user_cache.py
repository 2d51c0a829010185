"""The user cache on a real PostgreSQL: tokens and sessions stop working as soon as the
user's row changes, whoever changes it, and nothing is cached without a listener."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import database_url
from tests.e2e.servers import app_env, flask
from webapp.infrastructure.user_cache import UserCache
from webapp.infrastructure.user_feed import (
    CHANNEL,
    TRIGGERS,
    FeedUnavailable,
    _hear_own_hello,
)

pytestmark = pytest.mark.postgres


def cache_of(app: Flask) -> UserCache:
    return app.extensions["ports"].reader.cache


def sql(statement: str, *params: Any) -> Any:
    """Run a statement on a connection of its own (another process, as far as the app knows)."""
    url = sa.make_url(database_url(Path()))
    with psycopg.connect(host=url.host, port=url.port, user=url.username,
                         dbname=url.database, autocommit=True) as connection:
        cursor = connection.execute(statement, params)
        return cursor.fetchone() if cursor.description else None


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
    return check()


@pytest.fixture
def bearer(client: FlaskClient, tokens: dict[str, str]) -> dict[str, str]:
    """The access token's header, its user now cached (the second /me was a cache hit)."""
    header = {"Authorization": f"Bearer {tokens['access']}"}
    assert client.get("/api/auth/me/", headers=header).status_code == 200
    assert client.get("/api/auth/me/", headers=header).status_code == 200
    cache = cache_of(client.application)
    assert cache.live and len(cache) == 1
    return header


def user_id(client: FlaskClient, bearer: dict[str, str]) -> int:
    return int(client.get("/api/auth/me/", headers=bearer).json["id"])


def me(client: FlaskClient, bearer: dict[str, str]) -> int:
    return client.get("/api/auth/me/", headers=bearer).status_code


@pytest.mark.parametrize("change", [
    "UPDATE users SET is_active = false WHERE id = %s",
    "UPDATE users SET uniquifier = 'rotated' WHERE id = %s",  # logout everywhere
    "DELETE FROM users WHERE id = %s",
])
def test_a_change_from_another_connection_ends_the_cached_token(
        client: FlaskClient, bearer: dict[str, str], change: str) -> None:
    sql(change, user_id(client, bearer))
    assert eventually(lambda: me(client, bearer) == 401)


def test_a_staff_deactivation_in_this_process_ends_the_token_at_once(
        app: Flask, client: FlaskClient, bearer: dict[str, str]) -> None:
    uid = user_id(client, bearer)
    with app.app_context():
        app.extensions["services"].admin.act(None, uid, "deactivate")
    assert me(client, bearer) == 401


def test_logout_everywhere_ends_the_token_at_once(
        app: Flask, client: FlaskClient, bearer: dict[str, str]) -> None:
    uid = user_id(client, bearer)
    with app.app_context():
        app.extensions["services"].tokens.revoke_all(uid)
    assert me(client, bearer) == 401


def test_a_password_change_ends_the_token_at_once(
        client: FlaskClient, bearer: dict[str, str], verified_user: tuple[str, str]) -> None:
    app = client.application
    uid, (_, password) = user_id(client, bearer), verified_user
    with app.app_context():
        app.extensions["services"].accounts.change_password(
            uid, password, "a brand new passphrase", "a brand new passphrase",
                auth_time=datetime.now(UTC))
    assert me(client, bearer) == 401


def test_a_profile_change_is_served_at_once(
        client: FlaskClient, bearer: dict[str, str]) -> None:
    sql("UPDATE users SET first_name = 'Janet' WHERE id = %s", user_id(client, bearer))
    assert eventually(lambda: client.get("/api/auth/me/", headers=bearer)
                      .json["first_name"] == "Janet")


def test_a_dropped_listener_falls_back_to_reads_then_recovers(
        client: FlaskClient, bearer: dict[str, str]) -> None:
    cache = cache_of(client.application)
    cache._retry = 0.0  # reconnect on the next request instead of seconds later
    listener = cache._feed.backend_pid
    uid = user_id(client, bearer)
    sql("SELECT pg_terminate_backend(%s)", listener)
    # Noticed from the server's goodbye; the lookups meanwhile read the database.
    assert eventually(lambda: me(client, bearer) == 200 and cache._feed.backend_pid != listener)
    sql("UPDATE users SET is_active = false WHERE id = %s", uid)
    assert eventually(lambda: me(client, bearer) == 401)
    sql("UPDATE users SET is_active = true WHERE id = %s", uid)
    assert eventually(lambda: me(client, bearer) == 200)
    assert me(client, bearer) == 200
    assert cache.live and len(cache) == 1 and cache._feed.backend_pid not in (None, listener)


def test_without_the_trigger_nothing_is_cached(app: Flask, client: FlaskClient,
                                               tokens: dict[str, str]) -> None:
    header = {"Authorization": f"Bearer {tokens['access']}"}
    sql("ALTER TABLE users DISABLE TRIGGER users_notify_change")
    try:
        assert [me(client, header) for _ in "abc"] == [200, 200, 200]
        cache = cache_of(app)
        assert not cache.live and len(cache) == 0
        sql("UPDATE users SET is_active = false")
        assert me(client, header) == 401  # read from the database, not from a cache
    finally:
        sql("ALTER TABLE users ENABLE TRIGGER users_notify_change")


def test_the_migrations_install_and_remove_the_triggers(app: Flask,
                                                        scratch_database: str) -> None:
    # ``app``: the test database has the models' schema (create_all), to compare with.
    env = app_env(scratch_database)
    names = ("SELECT array_agg(tgname::text ORDER BY tgname) FROM pg_trigger "
             "WHERE tgrelid = 'users'::regclass AND tgname LIKE 'users_notify_%%'")
    engine = sa.create_engine(scratch_database)

    def triggers() -> list[str] | None:
        with engine.connect() as connection:
            return connection.exec_driver_sql(names).scalar()

    definitions = ("SELECT array_agg(pg_get_triggerdef(oid) ORDER BY tgname) FROM pg_trigger "
                   "WHERE tgrelid = 'users'::regclass AND tgname LIKE 'users_notify_%%'")
    try:
        flask(["db", "upgrade"], env)
        assert triggers() == sorted(TRIGGERS)
        # The same triggers as the models install with create_all (the test database).
        with engine.connect() as connection:
            migrated = connection.exec_driver_sql(definitions).scalar()
        assert migrated == sql(definitions)[0]
        flask(["db", "downgrade", "0004_user_notify"], env)
        assert triggers() == ["users_notify_change", "users_notify_truncate"]
        flask(["db", "downgrade", "0003_admin"], env)
        assert triggers() is None
    finally:
        engine.dispose()


def first_announcement_after(*statements: str) -> str:
    """Run the statements (autocommit, one session), then announce a marker from the same
    session; NOTIFYs of one session arrive in commit order, so the first one received
    tells whether the statements announced anything."""
    url = sa.make_url(database_url(Path()))
    params = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    with psycopg.connect(**params, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        with psycopg.connect(**params, autocommit=True) as writer:
            for statement in statements:
                writer.execute(statement)
            writer.execute("SELECT pg_notify(%s, 'marker')", (CHANNEL,))
        received = next(listener.notifies(timeout=10, stop_after=1), None)
    assert received is not None, "no announcement at all"
    return received.payload


@pytest.mark.parametrize("change", [
    "UPDATE users SET last_login_at = now()",
    "UPDATE users SET last_login_at = now(), password_hash = password_hash",  # a login
])
def test_a_new_last_login_alone_is_not_announced(
        verified_user: tuple[str, str], change: str) -> None:
    assert first_announcement_after(change) == "marker"


@pytest.mark.parametrize("change", [
    "UPDATE users SET first_name = 'Janet'",
    "UPDATE users SET last_login_at = now(), password_hash = 'rehashed'",  # a rehash
    "UPDATE users SET last_login_at = now(), is_active = false",
    "UPDATE users SET email_verified_at = NULL",
    "DELETE FROM users",
])
def test_every_other_change_is_announced(verified_user: tuple[str, str], change: str) -> None:
    (uid,) = sql("SELECT id FROM users")
    assert first_announcement_after(change) == str(uid)


def test_the_cache_can_be_turned_off(app_factory: Callable[..., Flask]) -> None:
    off = app_factory(USER_CACHE_SIZE=0)
    assert not hasattr(off.extensions["ports"].reader, "cache")


def test_a_connection_that_does_not_hear_the_channel_is_refused() -> None:
    """What a transaction-mode pooler would do: LISTEN lost between statements."""
    url = sa.make_url(database_url(Path()))
    with psycopg.connect(host=url.host, port=url.port, user=url.username,
                         dbname=url.database, autocommit=True) as connection:
        with pytest.raises(FeedUnavailable):
            _hear_own_hello(connection)
        connection.execute(f"LISTEN {CHANNEL}")
        _hear_own_hello(connection)
