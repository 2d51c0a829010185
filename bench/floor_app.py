"""The floors: how fast any login or registration that keeps its promises could be here.

The bare app (bench/bare_app.py) only hashes: its login verifies one stored hash and signs
two tokens, its registration hashes the password. A real login must also find the account
and record the session it opens (a user can see and end it) and the sign-in (the audit
trail); a real registration must store the account and send the verification email. This
app does the least of each, with nothing else, on the benchmark's database
(``FLOOR_DB``: an SQLite file, WAL and ``synchronous=NORMAL`` as the app, or a PostgreSQL
URL), one connection per worker thread:

- ``POST /api/auth/login/``: one ``SELECT`` of the account by address, the hash verified,
  then ``BEGIN IMMEDIATE``, an ``INSERT`` of the session and one of the audit event,
  ``COMMIT``, and the two tokens the bare login signs;
- ``POST /api/auth/register/``: the hash, one ``INSERT`` + ``COMMIT``, and one short email
  over an SMTP connection kept per worker (stdlib ``EmailMessage``).

``bash bench/run`` serves it beside the others on both backends and prints floor ÷ bare
for both as ``(ref)`` lines: the part of "login ≥ 0.95 × bare" and "register ≥ 0.9 × bare" that no
implementation can avoid on this machine. ``python -m bench.floor_app`` measures only
that, in longer interleaved rounds.
"""

from __future__ import annotations

import os
import secrets
import smtplib
import sqlite3
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from flask import Flask, Response, jsonify, request

app = Flask(__name__)
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
KEY = os.environ.get("SECRET_KEY", "")
ISSUER = os.environ.get("JWT_ISSUER", "webapp")
SCHEMA = (  # {key}: an integer primary key, numbered by the database
    "CREATE TABLE IF NOT EXISTS users (id {key}, email TEXT UNIQUE NOT NULL, "
    "password_hash TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user_id INTEGER NOT NULL, "
    "created_at INTEGER NOT NULL, ip TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit_events (id {key}, kind TEXT NOT NULL, "
    "user_id INTEGER, created_at INTEGER NOT NULL, ip TEXT NOT NULL)",
)
_local = threading.local()


class Database:
    """One connection in autocommit, on SQLite or PostgreSQL; ``?`` placeholders."""

    def __init__(self, target: str) -> None:
        self.postgres = target.startswith("postgres")
        if self.postgres:
            import psycopg

            self.connection: Any = psycopg.connect(target, autocommit=True)
            key, self.begin = "BIGSERIAL PRIMARY KEY", "BEGIN"
        else:
            self.connection = sqlite3.connect(target, isolation_level=None, timeout=30)
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
            key, self.begin = "INTEGER PRIMARY KEY", "BEGIN IMMEDIATE"
        for statement in SCHEMA:
            self.connection.execute(statement.format(key=key))

    def execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> Any:
        return self.connection.execute(sql.replace("?", "%s") if self.postgres else sql,
                                       parameters)

    def transaction(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        self.execute(self.begin)
        for sql, parameters in statements:
            self.execute(sql, parameters)
        self.execute("COMMIT")


def seed(target: str, count: int, password_hash: str) -> None:
    """user1..userN@bench.example, each with ``password_hash`` (the benchmark's users)."""
    database = Database(target)
    database.transaction(*(("INSERT INTO users (email, password_hash) VALUES (?, ?)",
                             (f"user{n}@bench.example", password_hash))
                            for n in range(1, count + 1)))
    database.connection.close()


def _database() -> Database:
    database = getattr(_local, "database", None)
    if database is None:
        database = _local.database = Database(os.environ["FLOOR_DB"])
    return database


def _smtp() -> smtplib.SMTP:
    connection = getattr(_local, "smtp", None)
    if connection is None:
        connection = smtplib.SMTP("127.0.0.1", int(os.environ["MAIL_PORT"]), timeout=10)
        _local.smtp = connection
    return connection


def _fields() -> tuple[str, str] | None:
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    password = body.get("password") if isinstance(body, dict) else None
    if not isinstance(password, str) or not isinstance(email, str) or "@" not in email:
        return None
    return email, password


@app.post("/api/auth/login/")
def login() -> Response | tuple[Response, int]:
    fields = _fields()
    database = _database()
    row = database.execute("SELECT id, password_hash FROM users WHERE email = ?",
                           (fields[0],)).fetchone() if fields else None
    try:
        if fields is None or row is None:
            raise VerificationError("no such account")
        HASHER.verify(row[1], fields[1])
    except VerificationError:
        return jsonify({"detail": "Invalid credentials", "code": "invalid_credentials"}), 401
    now, family, ip = int(time.time()), secrets.token_hex(16), request.remote_addr or ""
    database.transaction(
        ("INSERT INTO sessions (id, user_id, created_at, ip) VALUES (?, ?, ?, ?)",
         (family, row[0], now, ip)),
        ("INSERT INTO audit_events (kind, user_id, created_at, ip) VALUES ('login', ?, ?, ?)",
         (row[0], now, ip)))
    base = {"sub": str(row[0]), "iss": ISSUER, "iat": now, "fam": family}
    access = {**base, "type": "access", "exp": now + 900, "jti": secrets.token_hex(16)}
    refresh = {**base, "type": "refresh", "exp": now + 86400, "jti": secrets.token_hex(16)}
    return jsonify({"tokens": {"access": jwt.encode(access, KEY, algorithm="HS256"),
                               "refresh": jwt.encode(refresh, KEY, algorithm="HS256")}})


@app.post("/api/auth/register/")
def register() -> tuple[Response, int]:
    fields = _fields()
    if fields is None:
        return jsonify({"detail": "Invalid input", "code": "invalid"}), 400
    email, password = fields
    password_hash = HASHER.hash(password)
    _database().transaction(("INSERT INTO users (email, password_hash) VALUES (?, ?)",
                             (email, password_hash)))
    message = EmailMessage()
    message["From"], message["To"] = "noreply@bench.example", email
    message["Subject"] = "Verify your email"
    message.set_content("Your code is 123456, or follow https://bench.example/verify/x\n")
    _smtp().send_message(message)
    return jsonify({"detail": "Check your email to verify your account."}), 201


@app.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


def main(rounds: int = 4, seconds: int = 3) -> int:
    from bench.harness import SECRET_KEY, Stack, wrk
    from bench.sides import PASSWORD, SMALL

    stack = Stack()
    try:
        with tempfile.TemporaryDirectory(prefix="webapp-bench-floor-") as directory:
            stored = HASHER.hash(PASSWORD)
            database = str(Path(directory) / "floor.db")
            seed(database, SMALL, stored)
            env = {**os.environ, "SECRET_KEY": SECRET_KEY, "LOG_LEVEL": "WARNING",
                   "MAIL_PORT": str(stack.smtp.port), "BENCH_PASSWORD_HASH": stored}
            servers = {"bare": stack.gunicorn("bare", "bench.bare_app:app", env),
                       "floor": stack.gunicorn("floor", "bench.floor_app:app",
                                               {**env, "FLOOR_DB": database})}
            totals = {(what, name): [0, 0.0] for what in ("login", "register")
                      for name in servers}
            for n in range(rounds + 1):  # the first round warms up
                for what, name in totals:
                    args = ((str(SMALL), PASSWORD) if what == "login"
                            else (f"{name}-{n}-{time.monotonic_ns()}", PASSWORD))
                    load = wrk(servers[name].url, what, *args, seconds=seconds)
                    if n:
                        totals[what, name][0] += load.requests
                        totals[what, name][1] += load.seconds
            for what in ("login", "register"):
                bare, floor = (totals[what, k][0] / totals[what, k][1]
                               for k in ("bare", "floor"))
                print(f"{what} req/s: bare {bare:.1f}, floor {floor:.1f}; floor / bare "
                      f"{floor / bare:.2f}")
            print(f"({stack.smtp.received} emails received)")
    finally:
        stack.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
