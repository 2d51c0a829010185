"""Helpers for the JSON API tests: a controllable clock, bearer headers, stored rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from tests.conftest import PASSWORD
from tests.fakes import FakeClock

PHONE = "+14155550123"
NEW_PASSWORD = "a brand new passphrase"
# Headers that differ between any two responses by design.
PER_REQUEST_HEADERS = {"X-Request-ID", "Date"}


@pytest.fixture
def clock(app: Flask) -> FakeClock:
    """The services' clock, started a little in the past.

    JWTs are checked by pyjwt against the real time (``iat`` may not lie in the
    future), so advancing this clock by a few seconds still mints valid tokens.
    Request it before the fixtures that issue codes, so that they use it too.
    """
    fake = FakeClock(datetime.now(UTC) - timedelta(minutes=5))
    app.extensions["ports"].clock = fake
    return fake


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def comparable(response: Any) -> tuple[int, Any, dict[str, str]]:
    """Status, body and headers, without those that change on every request."""
    headers = {k: v for k, v in response.headers.items() if k not in PER_REQUEST_HEADERS}
    return response.status_code, response.get_data(), headers


def stored_user(app: Flask, *, email: str | None = None, phone: str | None = None) -> Any:
    """The user as the repository reads it (None when there is no such account)."""
    with app.app_context(), app.extensions["ports"].uow() as uow:
        return uow.users.get_by_email(email) if email else uow.users.get_by_phone(phone)


def count_users(app: Flask) -> int:
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.infrastructure.orm import UserRow

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(UserRow))


def login(client: FlaskClient, password: str = PASSWORD, **identifier: str) -> dict[str, str]:
    response = client.post("/api/auth/token/", json={**identifier, "password": password})
    assert response.status_code == 200, response.json
    return response.json


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """A JSON error body of the contract: ``detail``, ``code`` and maybe ``errors``."""
    assert response.status_code == status, (response.status_code, response.get_data())
    assert response.mimetype == "application/json"
    body = response.json
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    assert set(body) <= {"detail", "code", "errors"}
    if code is not None:
        assert body["code"] == code, body
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return body


@pytest.fixture
def phone_user(client: FlaskClient, register, outbox) -> str:  # noqa: ANN001
    """A registered, phone-verified account without an email address."""
    register(email=None, phone=PHONE)
    code = outbox.code("sms", PHONE)
    response = client.post("/api/auth/phone-verify/", json={"phone": PHONE, "code": code})
    assert response.status_code == 200, response.json
    return PHONE


@pytest.fixture
def server(app) -> Iterator[str]:  # noqa: ANN001
    """The app on 127.0.0.1, an ephemeral port, one thread per request; stopped afterwards."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)
    httpd.server_close()
