"""Helpers for the staff-page tests: accounts made through the service layer, and a
browser session set directly (until the web branch's /login page exists)."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import AnyConverter

from tests.conftest import FAST_ARGON2, log_in_browser
from webapp import create_app
from webapp.domain.model import User
from webapp.extensions import db
from webapp.infrastructure.orm import AuditEventRow, UserRow

RACERS = 8  # threads that race one another in the concurrency tests

PASSWORD = "correct horse battery staple"


def services(app: Flask) -> Any:
    return app.extensions["services"]


def ports(app: Flask) -> Any:
    """The ports the app's services are built from (the unit of work, the clock): for
    tests that set data up or look at it directly. No door reads them."""
    return app.extensions["ports"]


def make_user(app: Flask, email: str | None, *, phone: str | None = None, staff: bool = False,
              active: bool = True, verified: bool = True, first_name: str = "",
              last_name: str = "", customer: str | None = None) -> User:
    """An account straight through the repositories (no messages queued)."""
    now = datetime.now(UTC)
    with app.app_context(), ports(app).uow() as uow:
        user = uow.users.add(User(
            email=email, phone=phone,
            password_hash=ports(app).passwords.hash(PASSWORD),
            first_name=first_name, last_name=last_name, is_staff=staff,
            is_active=active, created_at=now, password_changed_at=now,
            email_verified_at=now if verified and email else None,
            phone_verified_at=now if verified and phone and not email else None,
            stripe_customer_id=customer))
        uow.commit()
        return user


def reload(app: Flask, user_id: int) -> User:
    with app.app_context(), ports(app).uow() as uow:
        user = uow.users.get(user_id)
        assert user is not None
        return user


def log_in(client: FlaskClient, user: User) -> None:
    """Set the Flask-Login session as a login would."""
    log_in_browser(client, user)


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on ``path`` (a GET the staff member would do first)."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text) or \
        re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def audit_rows(app: Flask, kind: str | None = None) -> list[AuditEventRow]:
    with app.app_context():
        rows = db.session.scalars(db.select(AuditEventRow).order_by(AuditEventRow.id)).all()
        return [r for r in rows if kind is None or r.kind == kind]


def set_user_columns(app: Flask, user_id: int, **values: Any) -> None:
    with app.app_context():
        db.session.execute(db.update(UserRow).where(UserRow.id == user_id).values(**values))
        db.session.commit()


def admin_requests(app, values):
    """(method, url) for every admin rule, every method and every value of a choice."""
    requests = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        choices = {}
        for name in rule.arguments:
            converter = rule._converters[name]
            if isinstance(converter, AnyConverter):
                choices[name] = sorted(converter.items)
            else:
                value = values[name]
                choices[name] = value if isinstance(value, list) else [value]
        with app.test_request_context():
            for combo in itertools.product(*choices.values()):
                url = app.url_for(rule.endpoint, **dict(zip(choices, combo, strict=True)))
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    requests.append((method, url))
    return requests


def listed(client, query=""):
    html = client.get(f"/admin/users{query}").text
    cells = re.findall(r'<a href="/admin/users/\d+">([^<]+)</a>', html)
    return cells


def race(action: Callable[[int], Any], racers: int = RACERS) -> list[Any]:
    """Run ``action(i)`` in ``racers`` threads that all start at the same instant."""
    barrier = threading.Barrier(racers)

    def run(i: int) -> Any:
        barrier.wait(timeout=30)
        return action(i)

    with ThreadPoolExecutor(racers) as pool:
        return list(pool.map(run, range(racers)))


def bearer(client, email):
    login = client.post("/api/auth/login/", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.json
    return {"Authorization": f"Bearer {login.json['tokens']['access']}"}


def invite_by(client, outbox, inviter: str, email: str = "new@example.com",
              **extra: Any) -> tuple[int, str]:
    """``inviter`` (signed in by API) invites ``email``: the invitation's id and link token."""
    sent = client.post("/api/auth/invitations/", json={"email": email, **extra},
                       headers=bearer(client, inviter))
    assert sent.status_code == 201, sent.json
    return sent.json["id"], outbox.link_token(email, "/invite/")


def accept_invitation(client, token: str) -> Any:
    return client.post("/api/auth/invitations/accept/", json={"token": token,
                                                              "password": PASSWORD})


@contextmanager
def second_app(url: str, **overrides: Any) -> Iterator[Flask]:
    """An app on ``url`` as it is (no schema reset): what a deployment would run."""
    app = create_app({"APP_ENV": "testing", "SECRET_KEY": "test-secret-key-" + "x" * 32,
                      "DATABASE_URL": url, "APP_BASE_URL": "http://testserver",
                      "DELIVERY": "worker", "RATELIMIT_ENABLED": False, **FAST_ARGON2,
                      **overrides})
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
