"""The register floor: how fast any registration that keeps its promises could be here.

The bare register (bench/bare_app.py) only hashes the password. A real one must also
store the account and send the verification email. This app does the least of both, with
nothing else: the hash, one SQLite ``INSERT`` + ``COMMIT`` (WAL, ``synchronous=NORMAL``,
as the app), and one short email over an SMTP connection kept per worker (stdlib
``EmailMessage``). ``python -m bench.register_floor`` serves it beside the bare app with
the app's gunicorn configuration (2 sync workers), runs the register load on both in
interleaved rounds (wrk, 16 connections, the same SMTP sink) and prints floor ÷ bare: the
part of "register ≥ 0.9 × bare" that no implementation can avoid.
"""

from __future__ import annotations

import os
import smtplib
import sqlite3
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path

from argon2 import PasswordHasher
from flask import Flask, Response, jsonify, request

app = Flask(__name__)
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_local = threading.local()


def _database() -> sqlite3.Connection:
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = sqlite3.connect(os.environ["FLOOR_DB"], isolation_level=None, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("CREATE TABLE IF NOT EXISTS users "
                           "(id INTEGER PRIMARY KEY, email TEXT UNIQUE, password_hash TEXT)")
        _local.connection = connection
    return connection


def _smtp() -> smtplib.SMTP:
    connection = getattr(_local, "smtp", None)
    if connection is None:
        connection = smtplib.SMTP("127.0.0.1", int(os.environ["MAIL_PORT"]), timeout=10)
        _local.smtp = connection
    return connection


@app.post("/api/auth/register/")
def register() -> tuple[Response, int]:
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    password = body.get("password") if isinstance(body, dict) else None
    if not isinstance(password, str) or not isinstance(email, str) or "@" not in email:
        return jsonify({"detail": "Invalid input", "code": "invalid"}), 400
    password_hash = HASHER.hash(password)
    database = _database()
    database.execute("BEGIN IMMEDIATE")
    database.execute("INSERT INTO users (email, password_hash) VALUES (?, ?)",
                     (email, password_hash))
    database.execute("COMMIT")
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
    from bench.sides import PASSWORD

    stack = Stack()
    try:
        with tempfile.TemporaryDirectory(prefix="webapp-bench-floor-") as directory:
            env = {**os.environ, "SECRET_KEY": SECRET_KEY, "LOG_LEVEL": "WARNING",
                   "MAIL_PORT": str(stack.smtp.port)}
            servers = {"bare": stack.gunicorn("bare", "bench.bare_app:app", env),
                       "floor": stack.gunicorn("floor", "bench.register_floor:app",
                                               {**env, "FLOOR_DB": str(Path(directory) / "f.db")})}
            totals = {name: [0, 0.0] for name in servers}
            for n in range(rounds + 1):  # the first round warms up
                for name, server in servers.items():
                    load = wrk(server.url, "register", f"{name}-{n}-{time.monotonic_ns()}",
                               PASSWORD, seconds=seconds)
                    if n:
                        totals[name][0] += load.requests
                        totals[name][1] += load.seconds
            bare, floor = (totals[k][0] / totals[k][1] for k in ("bare", "floor"))
            print(f"register req/s: bare {bare:.1f}, floor {floor:.1f}; floor / bare "
                  f"{floor / bare:.2f} ({stack.smtp.received} emails received)")
            for server in list(servers.values()):
                stack.stop(server)
    finally:
        stack.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
