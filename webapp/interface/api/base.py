"""The JSON blueprint's machinery: one decorator per endpoint, one error handler.

``@endpoint`` parses and validates the body into its model (webapp/interface/api/model.py),
registers the route, and records what the OpenAPI document needs. Views stay a few lines
long.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Literal

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from webapp.application.tokens import Access
from webapp.domain.errors import (
    AuthenticationRequired,
    Conflict,
    DomainError,
    InvalidCredentials,
    NotFound,
    OwnerSignInRequired,
    PermissionDenied,
    ReauthenticationRequired,
    ServiceUnavailable,
    Throttled,
    Unverified,
    ValidationFailed,
)
from webapp.domain.model import User
from webapp.interface import services
from webapp.interface.api.model import Schema, parse

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_BODY = 64 * 1024
TOO_LARGE = "The request body is too large (64 KiB at most)."

STATUS_OF: list[tuple[type[DomainError], int]] = [
    (ValidationFailed, 400),
    (InvalidCredentials, 401),
    (AuthenticationRequired, 401),
    (Unverified, 403),
    (OwnerSignInRequired, 403),
    (ReauthenticationRequired, 403),
    (Conflict, 409),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Throttled, 429),
    (ServiceUnavailable, 503),
]


class ApiError(DomainError):
    """An answer with a status chosen by the view (e.g. a spent refresh token is 401)."""

    def __init__(self, status: int, detail: str, code: str,
                 errors: dict[str, list[str]] | None = None) -> None:
        self.status = status
        self.errors = errors
        super().__init__(detail, code=code)


@dataclass
class Operation:
    rule: str
    method: str
    name: str
    summary: str
    description: str
    body: type[Schema] | None
    responses: dict[int, tuple[str, type[Schema] | None]]
    auth: bool | Literal["optional"]
    tag: str
    extra: dict[str, Any] = field(default_factory=dict)


OPERATIONS: list[Operation] = []


def error_response(status: int, detail: str, code: str,
                   errors: dict[str, list[str]] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"detail": detail, "code": code}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def domain_error_response(exc: DomainError) -> Response:
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.detail, exc.code, exc.errors,
                              _auth_header(exc.status))
    status = next((s for kind, s in STATUS_OF if isinstance(exc, kind)), 400)
    headers = _auth_header(status)
    if isinstance(exc, Throttled):
        headers["Retry-After"] = str(exc.retry_after)
    errors = exc.errors if isinstance(exc, ValidationFailed) else None
    return error_response(status, exc.detail, exc.code, errors, headers)


def _auth_header(status: int) -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="api"'} if status == 401 else {}


@bp.before_request
def _limit_body() -> None:
    """64 KiB on /api (the app allows 1 MiB); also enforced on chunked bodies.

    One byte more than allowed is read: Werkzeug stops a stream without a length
    silently at the limit, so only the extra byte shows that the body was too large.
    """
    request.max_content_length = MAX_BODY + 1


@bp.errorhandler(DomainError)
def _on_domain_error(exc: DomainError) -> Response:
    return domain_error_response(exc)


class DuplicateField(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose names are unique: which of two values would count is a parser's
    choice (Python's json keeps the last; a proxy or a log may read the first)."""
    data = dict(pairs)
    if len(data) != len(pairs):
        raise DuplicateField(next(name for i, (name, _) in enumerate(pairs)
                                  if any(name == other for other, _ in pairs[:i])))
    return data


def parse_body(model: type[Schema]) -> Schema:
    """The request's JSON object as ``model``; every failure is a clear 400/413/415."""
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise ApiError(413, TOO_LARGE, "too_large") from exc
    if len(raw) > MAX_BODY:
        raise ApiError(413, TOO_LARGE, "too_large")
    if raw and not request.is_json:
        raise ApiError(415, "Send the body as JSON (Content-Type: application/json).",
                       "unsupported_media_type")
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique) if raw.strip() else {}
    except DuplicateField as exc:
        raise ApiError(400, f"The body names the field {exc.name!r} twice.",
                       "duplicate_field") from exc
    except UnicodeDecodeError as exc:
        raise ApiError(400, "The body is not valid UTF-8.", "invalid_encoding") from exc
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise ApiError(400, "The body is not valid JSON.", "malformed_json") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object.", "invalid_body")
    return parse(model, data)


def bearer_user() -> User:
    """The user of the ``Authorization: Bearer`` access token, or a 401."""
    return services().tokens.user_for_access(bearer_token())


def bearer_access() -> Access:
    """The bearer access token's user, login and ``auth_time`` (for *fresh* endpoints)."""
    return services().tokens.access(bearer_token())


def bearer_token() -> str:
    """The ``Authorization: Bearer`` token as sent (not yet checked), or a 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationRequired()
    return token.strip()


def optional_bearer_user() -> User | None:
    """As ``bearer_user`` when an ``Authorization`` header came (a bad one is the same 401);
    None without one: the request is anonymous."""
    if "Authorization" not in request.headers:
        return None
    return bearer_user()


def endpoint(rule: str, *, method: str = "POST", summary: str,
             body: type[Schema] | None = None,
             responses: dict[int, tuple[str, type[Schema] | None]],
             auth: bool | Literal["optional"] = False, tag: str = "auth") -> Callable:
    """Register a JSON view; it receives the parsed body (if any) as its argument.

    ``auth`` documents the bearer token: required (True) or ``"optional"``."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(**kwargs: Any) -> Any:
            if body is not None:
                return view(parse_body(body), **kwargs)
            return view(**kwargs)

        bp.add_url_rule(rule, view.__name__, wrapper, methods=[method])
        OPERATIONS.append(Operation(
            rule=bp.url_prefix + rule, method=method.lower(), name=view.__name__,
            summary=summary, description=(view.__doc__ or "").strip(), body=body,
            responses=responses, auth=auth, tag=tag,
        ))
        return wrapper

    return decorate


def reply(model: Schema | None, status: int = 200) -> Response:
    if model is None:
        return Response(status=status)
    response = Response(model.model_dump_json(), status=status, mimetype="application/json")
    return response
