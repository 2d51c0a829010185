"""``GET /healthz``: 200 when the database answers and takes writes, 503 otherwise.

A database fault raised here is answered by the app's handler for it
(webapp/interface/errors.py ``register_unavailable``): 503, Retry-After, and a
``detail`` that says what the operator should look at."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from webapp.interface import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """For load balancers and orchestrators: a read and a write lock, nothing written."""
    services().health.check()
    return jsonify({"status": "ok"})
