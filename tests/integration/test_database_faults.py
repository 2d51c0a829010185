"""Database faults are answered honestly: 503 with Retry-After, never a 500, nothing
half-written, and /healthz unhealthy with a detail the operator can act on.

A read-only database is the test database opened read-only by a second app (SQLite
``mode=ro``, PostgreSQL ``default_transaction_read_only``), as a replica or a file system
remounted read-only would be; a lock is held by a second connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.conftest import PASSWORD, database_url, is_postgres
from tests.e2e.servers import free_port
from tests.helpers.app import make_user, second_app
from tests.integration.web.conftest import csrf_token, own_app
from webapp.extensions import db
from webapp.infrastructure.orm import OutboxRow, UserRow

LOGIN = {"email": "jane@example.com", "password": PASSWORD}


def read_only(url: str) -> str:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:///file:{parsed.database}?mode=ro&uri=true"
    options = {"options": "-c default_transaction_read_only=on"}
    return parsed.update_query_dict(options).render_as_string(hide_password=False)


def counts(app: Flask) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(sa.select(sa.func.count()).select_from(UserRow)),
                db.session.scalar(sa.select(sa.func.count()).select_from(OutboxRow)))


def assert_unavailable(response, retry_after: str) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.headers["Retry-After"] == retry_after
    if response.mimetype == "application/json":
        assert response.json["code"] == "unavailable"
        assert "try again" in response.json["detail"]
    else:
        page = response.get_data(as_text=True)
        assert "We are briefly unavailable" in page and "Error 503" in page
        assert "Traceback" not in page


def test_a_read_only_database_answers_503_and_nothing_is_written(app, tmp_path):
    make_user(app, "jane@example.com")
    before = counts(app)
    with second_app(read_only(database_url(tmp_path))) as frozen:
        client = frozen.test_client()
        assert client.get("/api/auth/me/").status_code == 401  # reads still answer
        assert_unavailable(client.post("/api/auth/register/", json={
            "email": "new@example.com", "password": PASSWORD}), "30")
        assert_unavailable(client.post("/api/auth/login/", json=LOGIN), "30")
        token = csrf_token(client, "/signup")
        page = client.post("/signup", data={
            "csrf_token": token, "email": "web@example.com", "password": PASSWORD})
        assert_unavailable(page, "30")
        assert 'button-primary" href="/signup"' in page.get_data(as_text=True)  # try again
        health = client.get("/healthz")
        assert health.status_code == 503 and health.mimetype == "application/json"
        assert "refuses writes" in health.json["detail"]
        assert "DATABASE_URL" in health.json["detail"]
    assert counts(app) == before
    assert app.test_client().get("/healthz").json == {"status": "ok"}


@contextmanager
def lock_held(app: Flask) -> Iterator[None]:
    """Another connection holds the database (SQLite) or the users table (PostgreSQL)."""
    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(url.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        connection.exec_driver_sql("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        yield
        connection.rollback()
    engine.dispose()


def test_a_lock_held_past_the_timeout_answers_503_then_recovers(tmp_path):
    with own_app(tmp_path, DATABASE_LOCK_TIMEOUT_MS=150) as app:
        make_user(app, "jane@example.com")
        client = app.test_client()
        access = client.post("/api/auth/login/", json=LOGIN).json["tokens"]["access"]
        with lock_held(app):
            assert_unavailable(client.post("/api/auth/login/", json=LOGIN), "5")
            assert_unavailable(client.post("/api/auth/register/", json={
                "email": "new@example.com", "password": PASSWORD}), "5")
            if not is_postgres():  # PostgreSQL may answer from its user cache
                assert_unavailable(client.get("/api/auth/me/", headers={
                    "Authorization": f"Bearer {access}"}), "5")
        assert client.post("/api/auth/login/", json=LOGIN).status_code == 200
        assert counts(app)[0] == 1


def test_a_refused_connection_answers_503_on_both_doors():
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none"
    with second_app(url, USER_CACHE_SIZE=0) as down:
        client = down.test_client()
        assert_unavailable(client.post("/api/auth/login/", json=LOGIN), "5")
        assert_unavailable(client.post("/api/auth/register/", json={
            "email": "new@example.com", "password": PASSWORD}), "5")
        token = csrf_token(client, "/login")
        assert_unavailable(client.post("/login", data={
            "csrf_token": token, "identifier": "jane@example.com", "password": PASSWORD}), "5")
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json["detail"].startswith("The database does not answer")


@pytest.mark.postgres
def test_a_postgresql_restart_costs_503s_at_most_and_recovers(app):
    make_user(app, "jane@example.com")
    client = app.test_client()
    assert client.post("/api/auth/login/", json=LOGIN).status_code == 200
    with app.app_context():
        url = db.engine.url
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:  # what a restart does to every pooled connection
        ended = connection.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()").scalar()
    admin.dispose()
    assert ended >= 1
    statuses = [client.post("/api/auth/login/", json=LOGIN).status_code for _ in range(4)]
    statuses += [client.post("/api/auth/register/", json={
        "email": f"n{i}@example.com", "password": PASSWORD}).status_code for i in range(3)]
    assert set(statuses) <= {200, 201, 503}, statuses
    assert statuses[-1] == 201 and 200 in statuses  # recovered without a restart
