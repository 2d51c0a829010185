"""``GET /healthz``: 200 when the database answers, 503 otherwise."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from webapp.interface import services

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> Response | tuple[Response, int]:
    """For load balancers and orchestrators."""
    try:
        services().health.check()
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        log.exception("health check failed")
        return jsonify({"detail": "The database does not answer.", "code": "unavailable"}), 503
    return jsonify({"status": "ok"})
