"""The peer: Flask-Security-Too 5.9 configured to do what this app does, for the benchmark.

Runs only in the benchmark's own virtual environment (bench/.venv-fst, made by bench/run),
never in the app's: it imports nothing from ``webapp``.

- ``fsqla_v3`` models on Flask-SQLAlchemy, on ``DATABASE_URL`` (SQLite or PostgreSQL);
- token authentication (``Authentication-Token`` header), JSON login and registration;
- argon2id with OWASP's parameters, as ours (m=19 MiB, t=2, p=1);
- registration confirmable by email, sent over SMTP (``MAIL_SERVER``/``MAIL_PORT``);
- CSRF off for JSON (our API has none either), like every API client would set it;
- on SQLite, the connection settings ours uses (WAL, synchronous=NORMAL, a busy timeout):
  on SQLite's defaults (a rollback journal, an fsync per commit, 5 s timeout) its
  registrations queue on the disk and block its token checks for seconds, which would
  measure the disk, not the library.

``GET /api/auth/me/`` returns the token's user, like ours. ``python bench/fst_app.py seed N``
creates the tables and N confirmed users user1..userN@bench.example with ``BENCH_PASSWORD``.
"""

from __future__ import annotations

import os
import sys
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, jsonify
from flask_mail import Mail
from flask_security import Security, SQLAlchemyUserDatastore, auth_token_required, current_user
from flask_security.models import fsqla_v3 as fsqla
from flask_security.utils import hash_password
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine

db = SQLAlchemy()
fsqla.FsModels.set_db_info(db)


class Role(db.Model, fsqla.FsRoleMixin):  # type: ignore[name-defined,misc]
    pass


class User(db.Model, fsqla.FsUserMixin):  # type: ignore[name-defined,misc]
    pass


@event.listens_for(Engine, "connect")
def _tune_sqlite(dbapi_connection, _record):  # noqa: ANN001, ANN202
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ["SECRET_KEY"],
        SECURITY_PASSWORD_SALT=os.environ["SECRET_KEY"][:32],
        SQLALCHEMY_DATABASE_URI=os.environ["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        SECURITY_PASSWORD_HASH="argon2",
        SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS={
            "argon2__memory_cost": 19456, "argon2__rounds": 2, "argon2__parallelism": 1},
        SECURITY_REGISTERABLE=True,
        SECURITY_CONFIRMABLE=True,
        SECURITY_SEND_REGISTER_EMAIL=True,
        SECURITY_PASSWORD_CONFIRM_REQUIRED=False,  # one password field, as ours
        # Like ours: no DNS lookups, and the benchmark's addresses are @bench.example.
        SECURITY_EMAIL_VALIDATOR_ARGS={"check_deliverability": False,
                                       "globally_deliverable": False},
        SECURITY_TOKEN_MAX_AGE=900,
        SECURITY_URL_PREFIX="/api/auth",
        SECURITY_LOGIN_URL="/login/",
        SECURITY_REGISTER_URL="/register/",
        SECURITY_EMAIL_SENDER="no-reply@bench.example",
        WTF_CSRF_ENABLED=False,
        MAIL_SERVER=os.environ.get("MAIL_SERVER", "127.0.0.1"),
        MAIL_PORT=int(os.environ.get("MAIL_PORT", "25")),
    )
    db.init_app(app)
    Mail(app)
    app.security = Security(app, SQLAlchemyUserDatastore(db, User, Role))

    @app.get("/api/auth/me/")
    @auth_token_required
    def me() -> Response:
        """The token's user."""
        return jsonify({"id": current_user.id, "email": current_user.email})

    @app.get("/healthz")
    def healthz() -> Response:
        """Ready."""
        return jsonify({"status": "ok"})

    return app


def seed(count: int, password: str) -> None:
    """The tables and ``count`` confirmed users, all with one hash (as ours are seeded)."""
    app = create_app()
    with app.app_context():
        db.drop_all()
        db.create_all()
        stored = hash_password(password)
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [{"email": f"user{i}@bench.example", "password": stored, "active": True,
                 "fs_uniquifier": uuid.uuid4().hex, "confirmed_at": now}
                for i in range(1, count + 1)]
        db.session.execute(User.__table__.insert(), rows)
        db.session.commit()


if __name__ == "__main__" and sys.argv[1:2] == ["seed"]:
    seed(int(sys.argv[2]), os.environ["BENCH_PASSWORD"])
else:
    app = create_app()
