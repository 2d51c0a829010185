"""Shared fixtures. Integration tests get a fresh database per test:

- SQLite in a temporary file by default;
- PostgreSQL when TEST_DATABASE_URL is set (``.ci/test`` starts a throwaway server):
  the schema is created once per test session, and every test starts from emptied
  tables (TRUNCATE ... RESTART IDENTITY CASCADE), which is much faster than
  dropping and creating every table for every test.

Password hashing uses the cheapest argon2id parameters in tests (the real
defaults are OWASP's; tests of the parameters themselves say so).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from webapp import create_app
from webapp.extensions import db

FAST_ARGON2 = {"ARGON2_MEMORY_COST": 8, "ARGON2_TIME_COST": 1, "ARGON2_PARALLELISM": 1}
PASSWORD = "correct horse battery staple"


# Billing on (so verified users get a Stripe customer job), Stripe itself unreachable: the
# tests that use it deliver nothing, or swap the gateway for tests.fakes.FakeBilling.
BILLING_ON = {"STRIPE_SECRET_KEY": "sk_test_integration", "STRIPE_API_BASE": "http://127.0.0.1:9"}


def database_url(tmp_path: Path) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.db'}"


def make_app(tmp_path: Path, *, reset: bool = True, **overrides: Any) -> Flask:
    config: dict[str, Any] = {
        "APP_ENV": "testing",
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "DATABASE_URL": database_url(tmp_path),
        "APP_BASE_URL": "http://testserver",
        "DELIVERY": "worker",
        "RATELIMIT_ENABLED": False,
        "RESEND_COOLDOWN": 0,  # tests that need the cool-down turn it on
        "WTF_CSRF_ENABLED": True,
        **FAST_ARGON2,
        **overrides,
    }
    app = create_app(config)
    if reset:  # reset=False: the same site restarted with other settings, its data kept
        with app.app_context():
            reset_database()
    return app


_SCHEMA_READY: set[str] = set()


def _reset_counters_file(database: str | None) -> None:
    """SQLite keeps the rate-limit counters in a file beside the database: emptied too."""
    import sqlite3

    counters = Path(f"{database}-limits")
    if database and counters.exists():
        connection = sqlite3.connect(counters)
        with connection:
            connection.execute("DELETE FROM rate_counters")
        connection.close()


def reset_database() -> None:
    """Empty tables for the app in context: drop/create on SQLite, TRUNCATE on PostgreSQL."""
    engine = db.engine
    if engine.dialect.name != "postgresql":
        db.drop_all()
        db.create_all()
        _reset_counters_file(engine.url.database)
        return
    url = engine.url.render_as_string(hide_password=False)
    names = [t.name for t in db.metadata.sorted_tables]
    with engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL lock_timeout = '20s'")
        present = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename = ANY(%(names)s)", {"names": names}).scalar()
        # Once per session (whatever an earlier run left), and again if a test dropped tables.
        if url not in _SCHEMA_READY or present != len(names):
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
            db.metadata.create_all(connection)
            _SCHEMA_READY.add(url)
            return
        tables = ", ".join(f'"{name}"' for name in names)
        connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


def is_postgres() -> bool:
    return database_url(Path()).startswith("postgresql")


@pytest.fixture(autouse=True, scope="module")
def _no_delivery_thread_outlives_its_module() -> Iterator[None]:
    """An inline delivery thread left running polls its database every few seconds; on
    PostgreSQL every test shares one, so it would claim (and fail to send) the messages of
    tests that come later. Whatever a module started is stopped when the module ends."""
    yield
    from webapp.infrastructure.dispatch import _DISPATCHERS

    for dispatcher in list(_DISPATCHERS):
        dispatcher.stop(timeout=5)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path)
    yield app
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name != "postgresql":
            db.drop_all()
        db.engine.dispose()


@pytest.fixture
def app_factory(tmp_path: Path) -> Iterator[Any]:
    """``app_factory(**overrides)``: an app with other settings (each in its own directory),
    its database dropped and its connections closed after the test."""
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        directory = tmp_path / f"app{len(apps)}"
        directory.mkdir()
        apps.append(make_app(directory, **overrides))
        return apps[-1]

    yield build
    for built in apps:
        with built.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # noqa: ANN201
    return app.test_cli_runner()


class Outbox:
    """The messages the app queued, read through the service layer's own repository."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def all(self, kind: str | None = None, to: str | None = None) -> list[Any]:
        from webapp.infrastructure.orm import OutboxRow

        with self.app.app_context():
            rows = db.session.scalars(db.select(OutboxRow).order_by(OutboxRow.id)).all()
            return [r for r in rows if (kind is None or r.kind == kind)
                    and (to is None or r.payload.get("to") == to)]

    def last(self, kind: str, to: str) -> Any:
        messages = self.all(kind, to)
        assert messages, f"no {kind} to {to}"
        return messages[-1]

    def code(self, kind: str, to: str) -> str:
        payload = self.last(kind, to).payload
        body = payload.get("text") or payload.get("body", "")
        match = re.search(r"\b(\d{6})\b", body)
        assert match, body
        return match.group(1)

    def link_token(self, to: str, path: str) -> str:
        text = self.last("email", to).payload["text"]
        match = re.search(rf"{re.escape(path)}(\S+)", text)
        assert match, text
        return match.group(1)


@pytest.fixture
def outbox(app: Flask) -> Outbox:
    return Outbox(app)


@pytest.fixture
def register(client: FlaskClient):  # noqa: ANN201
    def _register(email: str | None = "jane@example.com", phone: str | None = None,
                  password: str = PASSWORD, **extra: Any) -> Any:
        body = {"password": password, **extra}
        if email:
            body["email"] = email
        if phone:
            body["phone"] = phone
        response = client.post("/api/auth/register/", json=body)
        assert response.status_code == 201, response.json
        return response

    return _register


@pytest.fixture
def verified_user(client: FlaskClient, register, outbox: Outbox):  # noqa: ANN001, ANN201
    """A registered and email-verified account: (email, password)."""
    register("jane@example.com", first_name="Jane")
    code = outbox.code("email", "jane@example.com")
    response = client.post("/api/auth/email-verify/",
                           json={"email": "jane@example.com", "code": code})
    assert response.status_code == 200, response.json
    return "jane@example.com", PASSWORD


@pytest.fixture
def tokens(client: FlaskClient, verified_user):  # noqa: ANN001, ANN201
    email, password = verified_user
    response = client.post("/api/auth/login/", json={"email": email, "password": password})
    assert response.status_code == 200, response.json
    return response.json["tokens"]


@pytest.fixture
def scratch_database(tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database on the test PostgreSQL server, dropped afterwards
    (for tests that migrate from nothing or hand the database to real servers)."""
    import sqlalchemy as sa

    server = sa.make_url(database_url(tmp_path))
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres`` need TEST_DATABASE_URL (``.ci/test`` runs them on PostgreSQL)."""
    if is_postgres():
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (TEST_DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def log_in_browser(client: FlaskClient, user: Any) -> None:
    """A Flask-Login browser session for ``user``, as the login page would leave it
    (its record on the server, and the 'strong' session-protection identifier of this
    client)."""
    from webapp.application.tokens import session_version

    generator = client.application.login_manager._session_identifier_generator  # noqa: SLF001
    with client.application.test_request_context(environ_base=client.environ_base):
        identifier = generator()
        secret = client.application.extensions["services"].sessions.start(user)
    with client.session_transaction() as sess:
        sess["_user_id"] = f"{user.id}:{session_version(user)}:{secret}"
        sess["_fresh"] = True
        sess["_id"] = identifier
        sess["auth_time"] = time.time()  # signed in just now
