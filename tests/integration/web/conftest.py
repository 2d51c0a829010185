"""Helpers for the browser pages: forms are posted the way a browser posts them,
with the CSRF token read from the rendered page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import PASSWORD, make_app
from webapp.extensions import db

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                  r'type="hidden" name="csrf_token" value="([^"]+)"')
HTMX = {"HX-Request": "true"}


def csrf_token(client: FlaskClient, page: str) -> str:
    response = client.get(page)
    match = CSRF.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {page} ({response.status_code})"
    return match.group(1) or match.group(2)


def submit(client: FlaskClient, path: str, data: dict[str, Any] | None = None, *,
           page: str | None = None, htmx: bool = False) -> TestResponse:
    """POST ``data`` to ``path`` with the CSRF token of the form on ``page`` (default: path)."""
    body = {"csrf_token": csrf_token(client, page or path), **(data or {})}
    return client.post(path, data=body, headers=HTMX if htmx else {})


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def scrubbed(response: TestResponse, identifier: str) -> tuple[int, str]:
    """Status and page with the CSRF token and the echoed ``identifier`` blanked out: what
    is left is what the page tells about the account."""
    page = CSRF.sub("CSRF", text(response)).replace(identifier, "IDENTIFIER")
    return response.status_code, page


def flashes(client: FlaskClient) -> list[str]:
    with client.session_transaction() as session:
        return [message for _, message in session.get("_flashes", [])]


def login(client: FlaskClient, identifier: str, password: str = PASSWORD,
          next_: str = "") -> TestResponse:
    return submit(client, "/login", {"identifier": identifier, "password": password,
                                     "next": next_})


def signup(client: FlaskClient, **fields: str) -> TestResponse:
    data = {"email": "", "phone": "", "password": PASSWORD, "first_name": "", "last_name": "",
            **fields}
    return submit(client, "/signup", data)


@pytest.fixture
def signed_in(client: FlaskClient, verified_user: tuple[str, str]) -> tuple[str, str]:
    """The verified user, logged in through the login page."""
    email, password = verified_user
    response = login(client, email, password)
    assert response.status_code == 303, text(response)
    return email, password


@contextmanager
def own_app(tmp_path: Path, **overrides: Any) -> Iterator[Flask]:
    """An app with other settings than the ``app`` fixture's, its connections closed after."""
    app = make_app(tmp_path, **overrides)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
