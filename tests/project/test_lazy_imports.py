"""What an app server does not load until a request needs it (each is about 1 MiB or more
per worker process, and gunicorn runs several): the phone-number library until a phone
number is parsed, Flask-Mail and smtplib until an email is sent, Stripe until billing is
used, Alembic outside the ``flask`` command, the SQLite driver on PostgreSQL, cryptography
(PyJWT's RSA and EC, ~6 MiB with its Rust extension) until a second factor's secret is
opened, ua-parser until a device is named (and PyYAML not even then), py_webauthn and
cbor2 until a passkey is used, pyotp and segno until an authenticator app is, pydantic
until a body is not plainly valid or an endpoint other than login, registration and
``/me`` answers (about 8 MiB with its models)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAZY = ["phonenumbers", "flask_mail", "smtplib", "stripe", "requests", "alembic",
        "flask_migrate", "sqlite3", "cryptography", "ua_parser", "yaml", "webauthn", "cbor2",
        "pyotp", "segno", "pydantic", "pydantic_core"]
PROBE = """
import json, sys
from wsgi import app
print(json.dumps(sorted(name for name in sys.argv[1:] if name in sys.modules)))
"""


def loaded_at_start(*modules: str, **env: str) -> list[str]:
    environment = {"PATH": os.environ.get("PATH", ""), "APP_ENV": "production",
                   "SECRET_KEY": "s" * 40, "APP_BASE_URL": "https://accounts.example.com",
                   "LOG_LEVEL": "WARNING", **env}
    result = subprocess.run([sys.executable, "-c", PROBE, *(modules or LAZY)], cwd=ROOT,
                            env=environment,
                            capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def test_an_app_server_on_postgresql_loads_none_of_them_at_start() -> None:
    # The engine is created, not connected: no server needs to listen at this address.
    assert loaded_at_start(DATABASE_URL="postgresql+psycopg://u@127.0.0.1:9/db",
                           MAIL_SERVER="smtp.example.com", STRIPE_SECRET_KEY="sk_test_x",
                           PHONE_DEFAULT_REGION="GB") == []


def test_on_sqlite_only_its_driver_is_loaded(tmp_path: Path) -> None:
    assert loaded_at_start(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}") == ["sqlite3"]


def test_on_sqlite_nothing_of_postgresql_is_loaded(tmp_path: Path) -> None:
    # SQLAlchemy's PostgreSQL dialect (~2 MiB with all its drivers' modules), which a
    # postgresql_ option of an Index or a query compiled for psycopg would load, and the
    # PostgreSQL fast paths (their queries are compiled for psycopg at import).
    postgresql = ["sqlalchemy.dialects.postgresql", "webapp.infrastructure.readers",
                  "webapp.infrastructure.logins", "psycopg"]
    assert loaded_at_start(*postgresql, DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}") == []


def test_the_prefix_indexes_still_get_text_pattern_ops_on_postgresql() -> None:
    # Given when the table is created (webapp/infrastructure/columns.py), not in the model.
    from sqlalchemy import create_mock_engine

    from webapp.extensions import db
    from webapp.infrastructure import orm  # noqa: F401  (registers the tables)

    statements: list[str] = []
    engine = create_mock_engine(
        "postgresql+psycopg://",
        lambda sql, *_a, **_k: statements.append(str(sql.compile(dialect=engine.dialect))))
    db.metadata.create_all(engine, checkfirst=False)
    prefix = sorted(s.strip() for s in statements if "_prefix ON" in s)
    assert prefix == [
        "CREATE INDEX ix_users_email_prefix ON users (email text_pattern_ops)",
        "CREATE INDEX ix_users_first_name_prefix ON users (lower(first_name) text_pattern_ops)",
        "CREATE INDEX ix_users_last_name_prefix ON users (lower(last_name) text_pattern_ops)",
        "CREATE INDEX ix_users_phone_prefix ON users (phone text_pattern_ops)",
    ]


def test_with_rate_limits_off_no_rate_limiting_library_is_loaded() -> None:
    # Flask-Limiter, limits and their wrapt and deprecated: ~2 MiB per worker.
    limiting = ["flask_limiter", "limits", "wrapt", "deprecated"]
    postgresql = "postgresql+psycopg://u@127.0.0.1:9/db"
    assert loaded_at_start(*limiting, DATABASE_URL=postgresql, RATELIMIT_ENABLED="false") == []
    assert loaded_at_start(*limiting, DATABASE_URL=postgresql) == sorted(limiting)


def test_the_benchmarks_floor_imports_only_what_the_app_server_holds_anyway() -> None:
    # bench/bare_app.py's STACK: the bare login with these imported gives the least an
    # app worker on them can weigh; it must not count anything this app leaves unloaded.
    # (Read, not imported: the module wants the benchmark's environment.)
    source = ast.parse((ROOT / "bench" / "bare_app.py").read_text())
    stack = next(ast.literal_eval(node.value) for node in source.body
                 if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "STACK")
    assert len(stack) > 5
    assert loaded_at_start(*stack, DATABASE_URL="postgresql+psycopg://u@127.0.0.1:9/db"
                           ) == sorted(stack)


HMAC_ONLY_JWT = """
import json, sys
from webapp.infrastructure.second_factor import FernetSecretBox
from webapp.infrastructure.security import PyJwtCodec, jwt
from webapp.domain.errors import InvalidToken
codec = PyJwtCodec("k" * 40, "webapp")
claims = {"sub": "1", "type": "access", "iat": 1, "exp": 2**40, "jti": "j", "iss": "webapp"}
seen = [codec.decode(codec.encode(claims))["sub"], "cryptography" in sys.modules]
header = jwt.utils.base64url_encode(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
try:
    codec.decode(header.decode() + "." + codec.encode(claims).split(".", 1)[1])
except InvalidToken:
    seen.append("refused")
box = FernetSecretBox("k" * 40)
seen += [box.open(box.seal("secret")), "cryptography" in sys.modules]
print(json.dumps(seen))
"""


def test_jwts_are_signed_without_cryptography_which_still_imports_for_secrets() -> None:
    # PyJWT imported with cryptography hidden (webapp/infrastructure/security.py): HS256
    # works, another algorithm is refused, and cryptography loads later for the secrets.
    result = subprocess.run([sys.executable, "-c", HMAC_ONLY_JWT], cwd=ROOT,
                            env={"PATH": os.environ.get("PATH", "")},
                            capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout.splitlines()[-1]) == ["1", False, "refused", "secret", True]


DEVICE_LABEL = """
import json, sys
from webapp.infrastructure.devices import device_label
label = device_label("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")
print(json.dumps([label, "ua_parser" in sys.modules, "yaml" in sys.modules]))
"""


def test_a_device_label_loads_ua_parser_without_pyyaml() -> None:
    # ua-parser imports PyYAML for custom regex files; the built-in table needs none.
    result = subprocess.run([sys.executable, "-c", DEVICE_LABEL], cwd=ROOT,
                            env={"PATH": os.environ.get("PATH", "")},
                            capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout.splitlines()[-1]) == ["Firefox on Linux", True, False]


BUSY_ENDPOINTS = """
import json, sqlite3, sys
from wsgi import app
from webapp.extensions import db
with app.app_context():
    db.create_all()
client = app.test_client()
body = {"email": "jane@example.com", "password": "quiet lanterns at dusk"}
seen = [client.post("/api/auth/register/", json={**body, "first_name": "Jane"}).status_code]
with sqlite3.connect(sys.argv[1]) as conn:
    conn.execute("UPDATE users SET email_verified_at = created_at")
login = client.post("/api/auth/login/", json=body)
me = client.get("/api/auth/me/", headers={"Authorization": "Bearer "
                                          + login.get_json()["tokens"]["access"]})
seen += [login.status_code, me.status_code, me.get_json()["first_name"],
         client.post("/api/auth/login/", json={**body, "password": "wrong one, surely"}
                     ).status_code, "pydantic" in sys.modules]
seen += [client.post("/api/auth/login/", json={"email": 1}).get_json()["errors"],
         "pydantic" in sys.modules]
print(json.dumps(seen))
"""


def test_registration_login_and_me_answer_without_pydantic(tmp_path: Path) -> None:
    # Bodies plainly valid are checked and written by webapp/interface/api/model.py;
    # an invalid one is pydantic's to explain.
    database = tmp_path / "x.db"
    environment = {"PATH": os.environ.get("PATH", ""), "APP_ENV": "production",
                   "SECRET_KEY": "s" * 40, "APP_BASE_URL": "https://accounts.example.com",
                   "LOG_LEVEL": "WARNING", "DATABASE_URL": f"sqlite:///{database}",
                   "DELIVERY": "worker", "RATELIMIT_ENABLED": "false"}
    result = subprocess.run([sys.executable, "-c", BUSY_ENDPOINTS, str(database)], cwd=ROOT,
                            env=environment, capture_output=True, text=True, timeout=60,
                            check=True)
    assert json.loads(result.stdout.splitlines()[-1]) == [
        201, 200, 200, "Jane", 401, False,
        {"email": ["Must be a string."], "password": ["This field is required."]}, True]


CORE_ONLY = """
import json, sqlite3, sys, time
from wsgi import app
from webapp.extensions import db
from webapp.infrastructure.orm import OutboxRow, UserRow
with app.app_context():
    db.create_all()
with sqlite3.connect(sys.argv[1]) as conn:  # left due by a process that is gone
    conn.execute("INSERT INTO outbox (kind, payload, status, attempts, next_attempt_at, "
                 "created_at) VALUES ('email', ?, 'pending', 0, '2026-01-01 00:00:00', "
                 "'2026-01-01 00:00:00')", (json.dumps({"to": "left@example.com",
                 "subject": "Left behind", "text": "still sent"}),))
client = app.test_client()
body = {"email": "jane@example.com", "password": "quiet lanterns at dusk"}
seen = [client.post("/api/auth/register/", json=body).status_code]
with sqlite3.connect(sys.argv[1]) as conn:
    conn.execute("UPDATE users SET email_verified_at = created_at")
login = client.post("/api/auth/login/", json=body)
me = client.get("/api/auth/me/", headers={"Authorization": "Bearer "
                                          + login.get_json()["tokens"]["access"]})
assert app.extensions["outbox_dispatcher"].wait_idle(10)
with sqlite3.connect(sys.argv[1]) as conn:
    sent = conn.execute("SELECT json_extract(payload, '$.to') FROM outbox "
                        "WHERE status = 'sent' ORDER BY id").fetchall()
seen += [login.status_code, me.get_json()["email"], [to for (to,) in sent],
         UserRow.__mapper__.configured, OutboxRow.__mapper__.configured]
print(json.dumps(seen))
"""


def test_signing_in_registering_and_delivering_never_configure_the_orm_mappers(
        tmp_path: Path) -> None:
    # Configuring SQLAlchemy's mappers (all of them, on the first ORM statement) costs a
    # worker about 1 MiB: the user reads, the inserts and the delivery claims are Core.
    database = tmp_path / "x.db"
    environment = {"PATH": os.environ.get("PATH", ""), "APP_ENV": "production",
                   "SECRET_KEY": "s" * 40, "APP_BASE_URL": "https://accounts.example.com",
                   "LOG_LEVEL": "WARNING", "DATABASE_URL": f"sqlite:///{database}",
                   "RATELIMIT_ENABLED": "false"}
    result = subprocess.run([sys.executable, "-c", CORE_ONLY, str(database)], cwd=ROOT,
                            env=environment, capture_output=True, text=True, timeout=60,
                            check=True)
    assert json.loads(result.stdout.splitlines()[-1]) == [
        201, 200, "jane@example.com", ["left@example.com", "jane@example.com"], False, False]
