"""Helpers for the staff-page tests: accounts made through the service layer, and a
browser session set directly (until the web branch's /login page exists)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import log_in_browser
from webapp.domain.model import User
from webapp.extensions import db
from webapp.infrastructure.orm import AuditEventRow, UserRow

PASSWORD = "correct horse battery staple"


def services(app: Flask) -> Any:
    return app.extensions["services"]


def make_user(app: Flask, email: str | None, *, phone: str | None = None, staff: bool = False,
              active: bool = True, verified: bool = True, first_name: str = "",
              last_name: str = "", customer: str | None = None) -> User:
    """An account straight through the repositories (no messages queued)."""
    now = datetime.now(UTC)
    with app.app_context(), services(app).kit.uow() as uow:
        user = uow.users.add(User(
            email=email, phone=phone,
            password_hash=services(app).kit.passwords.hash(PASSWORD),
            first_name=first_name, last_name=last_name, is_staff=staff,
            is_active=active, created_at=now, password_changed_at=now,
            email_verified_at=now if verified and email else None,
            phone_verified_at=now if verified and phone and not email else None,
            stripe_customer_id=customer))
        uow.commit()
        return user


def reload(app: Flask, user_id: int) -> User:
    with app.app_context(), services(app).kit.uow() as uow:
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
