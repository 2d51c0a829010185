"""Error answers: JSON on /api/*, never an HTML page there; site pages elsewhere."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

from flask import Flask, Response, make_response, render_template, request
from jinja2 import TemplateNotFound
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    ServiceUnavailable,
    TooManyRequests,
)

from webapp.domain.errors import Throttled
from webapp.interface.api.base import domain_error_response, error_response

log = logging.getLogger(__name__)
UNAVAILABLE = "The service is briefly unavailable. Nothing was changed: try again in a moment."

API_CODES = {
    400: "bad_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
    405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type",
    429: "throttled", 500: "server_error", 503: "unavailable",
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path in ("/api", "/healthz")


def register_errorhandlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _on_http_error)
    app.register_error_handler(Throttled, _on_throttled)
    app.register_error_handler(Exception, _on_unexpected)
    app.after_request(_no_html_on_api)


def _no_html_on_api(response: Response) -> Response:
    """Werkzeug's own answers that skip the error handlers (the trailing-slash redirect,
    automatic OPTIONS) carry an HTML body; on /api they get a JSON one or none."""
    if not wants_json() or response.mimetype != "text/html":
        return response
    if response.location:
        response.set_data(json.dumps({"detail": f"Use {response.location}", "code": "moved"}))
        response.mimetype = "application/json"
    else:
        response.set_data(b"")
        response.status_code = 204 if response.status_code == 200 else response.status_code
        del response.headers["Content-Type"]
    return response


def _on_http_error(exc: HTTPException) -> Response | tuple[str, int]:
    status = exc.code or 500
    if wants_json():
        detail = {500: "An unexpected error occurred.",
                  429: Throttled.default_detail}.get(status, exc.description)
        if status == 503 and exc.description == ServiceUnavailable.description:
            detail = UNAVAILABLE
        response = error_response(status, detail, API_CODES.get(status, "error"))
        for name, value in exc.get_headers():  # Allow on 405, Retry-After on 429, ...
            if name.lower() != "content-type":
                response.headers[name] = value
        if exc.response is not None and "Retry-After" in exc.response.headers:
            response.headers["Retry-After"] = exc.response.headers["Retry-After"]
        return response
    return _page(status, exc)


def _on_throttled(exc: Throttled) -> Response | tuple[str, int]:
    """A service's per-account or per-destination limit, outside a view that handled it."""
    if wants_json():
        return domain_error_response(exc)
    page = TooManyRequests(exc.detail, retry_after=exc.retry_after)
    return _page(429, page)


class Fault(Protocol):
    reason: str
    detail: str
    retry_after: int


def register_unavailable(app: Flask, errors: tuple[type[Exception], ...],
                         classify: Callable[[BaseException], Fault | None]) -> None:
    """``errors`` that ``classify`` recognises as the database being unavailable answer
    503 with Retry-After; the others are the bugs they look like (500). The adapter that
    knows the database's errors is given by create_app: the views never see them."""

    def on_error(exc: Exception) -> Response | tuple[str, int]:
        fault = classify(exc)
        if fault is None:
            return _on_unexpected(exc)
        log.warning("database unavailable (%s) on %s %s: %s", fault.reason, request.method,
                    request.path, str(getattr(exc, "orig", exc)).splitlines()[0][:300])
        # The operator's words on the health check; clients are only told to try again.
        detail = fault.detail if request.blueprint == "health" else UNAVAILABLE
        return _on_http_error(ServiceUnavailable(detail, retry_after=fault.retry_after))

    for error in errors:
        app.register_error_handler(error, on_error)


def _on_unexpected(exc: Exception) -> Response | tuple[str, int]:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _on_http_error(InternalServerError())


def _page(status: int, exc: HTTPException) -> Response | tuple[str, int]:
    try:
        response = make_response(render_template(
            f"errors/{status}.html", error=exc, **({"wait": _wait(exc)} if status == 429 else {})
        ), status)
    except TemplateNotFound:
        try:
            response = make_response(
                render_template("errors/generic.html", error=exc, status=status), status)
        except TemplateNotFound:
            response = exc.get_response()
    return _with_retry_after(response, exc)


def _wait(exc: HTTPException) -> str:
    """How long a 429 page asks to wait, in words: the refusal's own Retry-After (a
    service's), else the reset of the per-address window that refused (Flask-Limiter's,
    whose header is only added after the page is made)."""
    seconds = getattr(exc, "retry_after", None)
    if seconds is None:
        from webapp.extensions import limiter  # loaded: only it refuses without a wait

        try:  # its storage may be what failed: the page is made all the same
            seconds = int(limiter.current_limit.reset_at - time.time())  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001
            return "a moment"
    seconds = max(1, math.ceil(seconds))
    if seconds <= 90:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    if seconds <= 90 * 60:
        return f"{math.ceil(seconds / 60)} minutes"
    return f"{math.ceil(seconds / 3600)} hours"


def _with_retry_after(response: Response, exc: HTTPException) -> Response:
    """A 429 page carries Retry-After like the JSON answer does."""
    for name, value in exc.get_headers():
        if name.lower() == "retry-after":
            response.headers["Retry-After"] = value
    if exc.response is not None and "Retry-After" in exc.response.headers:
        response.headers["Retry-After"] = exc.response.headers["Retry-After"]
    return response
