"""``flask mfa-reseal``: rotate MFA_ENCRYPTION_KEY for real. After it, the old key can be
dropped and every authenticator app still signs in."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pyotp
from cryptography.fernet import Fernet

from tests.conftest import make_app
from tests.helpers.app import make_user, services
from webapp import create_app
from webapp.extensions import db

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def sign_in_with_the_app(app, email, secret):
    client = app.test_client()
    first = client.post("/api/auth/login/", json={
        "email": email, "password": "correct horse battery staple"}).json
    return client.post("/api/auth/login/mfa/", json={
        "mfa_token": first["mfa_token"], "code": pyotp.TOTP(secret).at(time.time() + 30)})


def test_rotating_the_key_then_dropping_the_old_one(tmp_path: Path):
    first = make_app(tmp_path, MFA_ENCRYPTION_KEY=OLD)
    user = make_user(first, "jane@example.com")
    with first.app_context():
        setup = services(first).mfa.start_totp(user.id, datetime.now(UTC))
        services(first).mfa.confirm_totp(user.id, pyotp.TOTP(setup.secret).now())
    settings = first.config["SETTINGS"]
    base = {"APP_ENV": "testing", "SECRET_KEY": settings.SECRET_KEY,
            "DATABASE_URL": settings.DATABASE_URL, "RATELIMIT_ENABLED": False,
            "ARGON2_MEMORY_COST": 8, "ARGON2_TIME_COST": 1, "ARGON2_PARALLELISM": 1}
    # Other app servers on the same database, as after a deploy with other settings.
    rotating = create_app({**base, "MFA_ENCRYPTION_KEY": f"{NEW},{OLD}"})
    result = rotating.test_cli_runner().invoke(args=["mfa-reseal"])
    assert result.exit_code == 0, result.output
    assert result.output == "1 secret(s) sealed with the newest key.\n"
    rotated = create_app({**base, "MFA_ENCRYPTION_KEY": NEW})  # the old key is gone
    answer = sign_in_with_the_app(rotated, "jane@example.com", setup.secret)
    assert answer.status_code == 200 and "tokens" in answer.json
    unknown = create_app({**base, "MFA_ENCRYPTION_KEY": Fernet.generate_key().decode()})
    refused = unknown.test_cli_runner().invoke(args=["mfa-reseal"])
    assert refused.exit_code == 1 and "1 secret(s) open with none" in refused.output
    for app in (first, rotating, rotated, unknown):
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
