"""Limits that cannot split: every worker and app server counts in one place.

Two apps on one database stand for two workers (or two app servers): each has its own
Flask-Limiter and its own services, as separate processes would, and nothing in memory
is shared between them. Without Redis the counters live in the database (PostgreSQL)
or in a SQLite file beside it; the lockout and the message budgets live there even
when Redis is set.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import PASSWORD, Outbox, make_app
from tests.helpers.app import make_user, second_app
from webapp.extensions import db
from webapp.interface.limits import UnknownLimitTarget, register_rate_limits

WRONG = "not the password at all"


@contextmanager
def two_workers(tmp_path: Path, **overrides) -> Iterator[tuple[Flask, Flask]]:
    first = make_app(tmp_path, RATELIMIT_ENABLED=True, **overrides)
    with app_context_closed(first), ExitStack() as stack:
        url = first.config["SETTINGS"].DATABASE_URL
        second = stack.enter_context(second_app(url, RATELIMIT_ENABLED=True, **overrides))
        yield first, second


@contextmanager
def app_context_closed(app: Flask) -> Iterator[None]:
    try:
        yield
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_lockout_checks_exactly_five_passwords_across_workers(tmp_path):
    with two_workers(tmp_path) as apps:
        make_user(apps[0], "jane@example.com")
        clients = [app.test_client() for app in apps]
        statuses = []
        for i in range(12):  # alternate workers, each from a client address of its own
            response = clients[i % 2].post(
                "/api/auth/login/", json={"email": "jane@example.com", "password": WRONG},
                environ_base={"REMOTE_ADDR": f"127.0.100.{i + 1}"})
            statuses.append(response.status_code)
        assert statuses == [401] * 5 + [429] * 7
        # the right password is refused while locked, through either worker
        right = {"email": "jane@example.com", "password": PASSWORD}
        assert {c.post("/api/auth/login/", json=right).status_code for c in clients} == {429}


def test_a_reset_through_one_worker_lifts_the_lock_in_the_other(tmp_path):
    with two_workers(tmp_path) as (first, second):
        make_user(first, "jane@example.com")
        wrong = {"email": "jane@example.com", "password": WRONG}
        for n in range(5):
            first.test_client().post("/api/auth/login/", json=wrong,
                                     environ_base={"REMOTE_ADDR": f"127.0.100.{n + 1}"})
        new = "a brand new passphrase"
        assert first.test_client().post("/api/auth/login/", json={
            "email": "jane@example.com", "password": PASSWORD}).status_code == 429
        other = second.test_client()
        assert other.post("/api/auth/password-reset/", json={
            "email": "jane@example.com"}).status_code == 202
        code = Outbox(second).code("email", "jane@example.com")
        assert other.post("/api/auth/password-reset/confirm/", json={
            "email": "jane@example.com", "code": code, "new_password": new,
            "confirm_password": new}).status_code == 200
        assert first.test_client().post("/api/auth/login/", json={
            "email": "jane@example.com", "password": new}).status_code == 200


def test_one_address_gets_three_reset_messages_an_hour_across_workers(tmp_path):
    with two_workers(tmp_path) as apps:
        make_user(apps[0], "jane@example.com")
        clients = [app.test_client() for app in apps]
        statuses = [clients[i % 2].post(
            "/api/auth/password-reset/", json={"email": "jane@example.com"},
            environ_base={"REMOTE_ADDR": f"127.0.100.{i + 1}"}).status_code
            for i in range(12)]
        assert statuses == [202] * 3 + [429] * 9
        assert len(Outbox(apps[0]).all("email", "jane@example.com")) == 3


def test_the_per_client_limit_is_one_budget_across_workers(tmp_path):
    with two_workers(tmp_path, RATELIMIT_LOGIN="6/minute") as apps:
        clients = [app.test_client() for app in apps]
        statuses = [clients[i % 2].post(
            "/api/auth/login/", json={"email": f"u{i}@example.com", "password": WRONG}
        ).status_code for i in range(10)]
        assert statuses == [401] * 6 + [429] * 4


def test_start_up_says_where_each_limit_counts(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="webapp.limits"):
        app = make_app(tmp_path, RATELIMIT_ENABLED=True)
    with app_context_closed(app):
        line = next(r.getMessage() for r in caplog.records if r.name == "webapp.limits")
        assert "per client address (code, invite, login, refresh, register, resend, " \
               "reset)" in line
        assert "login_failed_per_account" in line and "reset_per_destination" in line
        where = ("the PostgreSQL database" if app.config["SETTINGS"].DATABASE_URL.startswith(
            "postgresql") else "the SQLite file test.db-limits")
        assert line.count(where) == 2


def test_a_limit_for_a_view_that_does_not_exist_stops_the_start(app):
    with pytest.raises(UnknownLimitTarget, match="'web.log_in' is not a view"):
        register_rate_limits(app, {"web.log_in": "login"})
    with pytest.raises(UnknownLimitTarget, match="'logins' is not a limit"):
        register_rate_limits(app, {"web.login": "logins"})


def test_every_limited_view_exists(tmp_path):
    from webapp.interface.limits import ENDPOINT_LIMITS

    app = make_app(tmp_path, RATELIMIT_ENABLED=True)  # off, no view is wrapped at all
    with app_context_closed(app):
        assert set(ENDPOINT_LIMITS) <= set(app.view_functions)
        assert all(getattr(app.view_functions[e], "_ip_limited", False)
                   for e in ENDPOINT_LIMITS)


@pytest.fixture
def global_limiter_restored() -> Iterator[None]:
    """Flask-Limiter's one ``limiter`` keeps "storage dead, use the in-memory fallback"
    across init_app calls (one app per process in production); later apps in this test
    process must not inherit it."""
    from webapp.extensions import limiter

    yield
    limiter._storage_dead = False  # noqa: SLF001
    limiter._in_memory_fallback_enabled = False  # noqa: SLF001


def test_with_redis_down_the_lockout_stays_exact_and_nothing_fails(tmp_path,
                                                                   global_limiter_restored):
    from tests.e2e.servers import free_port

    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with two_workers(tmp_path, REDIS_URL=down, RATELIMIT_LOGIN="4/minute") as apps:
        make_user(apps[0], "jane@example.com")
        clients = [app.test_client() for app in apps]
        wrong = {"email": "jane@example.com", "password": WRONG}
        statuses = [clients[i % 2].post("/api/auth/login/", json=wrong, environ_base={
            "REMOTE_ADDR": f"127.0.100.{i + 1}"}).status_code for i in range(8)]
        assert statuses == [401] * 5 + [429] * 3  # closed: the lockout is not in Redis
        # the per-client limit falls back to each worker's memory: 4 a minute in each
        one = [clients[0].post("/api/auth/login/", json={
            "email": f"u{i}@example.com", "password": WRONG}).status_code for i in range(5)]
        assert one == [401] * 4 + [429]


def test_production_refuses_an_in_memory_database_for_its_limits(tmp_path):
    from webapp.config import ConfigError, Settings

    for url in ("sqlite://", "sqlite:///:memory:"):
        for redis in ("", "redis://127.0.0.1:6379/0"):  # the lockout is never in Redis
            with pytest.raises(ConfigError, match="each worker its own lockout"):
                Settings.load({"APP_ENV": "production", "SECRET_KEY": "s" * 40,
                               "APP_BASE_URL": "https://a.example", "DATABASE_URL": url,
                               "REDIS_URL": redis}, {}, tmp_path)
