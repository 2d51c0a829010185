"""The yardstick for ``GET /api/auth/me/``: Flask checking the same JWT with no database.

Same key, algorithm, issuer, required claims and token type as the real app;
nothing else. Served by the same gunicorn configuration.
"""

from __future__ import annotations

import os

import jwt
from flask import Flask, Response, jsonify, request

app = Flask(__name__)
KEY = os.environ["SECRET_KEY"]
ISSUER = os.environ.get("JWT_ISSUER", "webapp")
REQUIRED = ["exp", "iat", "sub", "iss", "jti", "type"]


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


@app.get("/healthz")
def healthz() -> Response:
    """Ready."""
    return jsonify({"status": "ok"})
