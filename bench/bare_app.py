"""Bare Flask yardsticks, served by the same gunicorn configuration as the app.

``GET /api/auth/me/``: checks the same JWT as the real app (same key, algorithm, issuer,
required claims and token type), with no database: the /me figure's denominator.

``POST /api/auth/login/``: verifies the password against one stored argon2id hash (the
benchmark's, ``BENCH_PASSWORD_HASH``, with the app's parameters) and signs an access and
a refresh token, with no database, no validation beyond that, no audit: what Flask,
gunicorn and the hash alone cost.

``POST /api/auth/register/``: hashes the password with the app's argon2id parameters and
answers 201, with no database and no email: the register figure's denominator.

With ``BENCH_IMPORT_STACK=1`` the same app first imports the fixed libraries that the real
app's worker holds under the login load (``STACK``), and uses none of them: its worker's
peak RSS is the floor of any app built on them, printed beside the RSS figure.
"""

from __future__ import annotations

import importlib
import os
import secrets
import time

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from flask import Flask, Response, jsonify, request

# The project's fixed choices and the driver the issue names, as loaded by the real app's
# worker during the login load (Flask-Mail and phonenumbers are imported on first use
# there, by neither an email login nor this benchmark, so they are not here either).
STACK = ("flask_login", "flask_wtf", "flask_sqlalchemy", "flask_limiter", "email_validator",
         "psycopg", "sqlalchemy.dialects.postgresql.psycopg")
if os.environ.get("BENCH_IMPORT_STACK"):
    for module in STACK:
        importlib.import_module(module)

app = Flask(__name__)
KEY = os.environ["SECRET_KEY"]
ISSUER = os.environ.get("JWT_ISSUER", "webapp")
REQUIRED = ["exp", "iat", "sub", "iss", "jti", "type"]
STORED = os.environ.get("BENCH_PASSWORD_HASH", "")
# verify() reads the parameters from the stored hash; hash() uses OWASP's, as the app.
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


@app.get("/api/auth/me/")
def me() -> Response | tuple[Response, int]:
    """The token's subject, if the bearer access token checks out."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer":
            raise jwt.InvalidTokenError("no bearer token")
        claims = jwt.decode(token.strip(), KEY, algorithms=["HS256"], issuer=ISSUER,
                            options={"require": REQUIRED})
        if claims["type"] != "access":
            raise jwt.InvalidTokenError("not an access token")
    except jwt.PyJWTError:
        return jsonify({"detail": "Not authenticated", "code": "not_authenticated"}), 401
    return jsonify({"id": int(claims["sub"])})


@app.post("/api/auth/login/")
def login() -> Response | tuple[Response, int]:
    """Two signed tokens if the password matches the one stored hash."""
    body = request.get_json(silent=True)
    password = body.get("password") if isinstance(body, dict) else None
    try:
        if not isinstance(password, str) or not STORED:
            raise VerificationError("no password")
        HASHER.verify(STORED, password)
    except VerificationError:
        return jsonify({"detail": "Invalid credentials", "code": "invalid_credentials"}), 401
    now = int(time.time())
    base = {"sub": "1", "iss": ISSUER, "iat": now}
    access = {**base, "type": "access", "exp": now + 900, "jti": secrets.token_hex(16)}
    refresh = {**base, "type": "refresh", "exp": now + 86400, "jti": secrets.token_hex(16)}
    return jsonify({"tokens": {"access": jwt.encode(access, KEY, algorithm="HS256"),
                               "refresh": jwt.encode(refresh, KEY, algorithm="HS256")}})


@app.post("/api/auth/register/")
def register() -> Response | tuple[Response, int]:
    """The password hashed, nothing stored."""
    body = request.get_json(silent=True)
    password = body.get("password") if isinstance(body, dict) else None
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(password, str) or not isinstance(email, str) or "@" not in email:
        return jsonify({"detail": "Invalid input", "code": "invalid"}), 400
    HASHER.hash(password)
    return jsonify({"detail": "Check your email to verify your account."}), 201


@app.get("/healthz")
def healthz() -> Response:
    """Ready."""
    return jsonify({"status": "ok"})
