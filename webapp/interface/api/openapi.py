"""``GET /api/openapi.json``: the OpenAPI 3.1 document, built from the registered endpoints."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app, jsonify

from webapp.interface.api.base import OPERATIONS, Operation, bp
from webapp.interface.api.model import Schema
from webapp.interface.api.schemas import ErrorOut, HealthOut

REF = "#/components/schemas/{model}"
PATH_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")  # Flask's <int:name> -> OpenAPI's {name}
COMMON = {
    413: "The body is larger than 64 KiB",
    415: "The body is not JSON",
    429: "Too many requests; see Retry-After",
}


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of every endpoint."""
    return jsonify(build_document(current_app.config.get("APP_BASE_URL", "")))


def build_document(server: str) -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema  # pydantic only for this document

    models = [m.pydantic() for m in _models()]
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(PATH_PARAMETER.sub(r"{\2}", op.rule), {})[op.method] = _operation(op)
    paths[bp.url_prefix + "/openapi.json"] = {"get": {
        "operationId": "openapi", "summary": "This document", "tags": ["meta"],
        "responses": {"200": {"description": "The OpenAPI 3.1 document", "content": {
            "application/json": {"schema": {"type": "object"}}}}},
    }}
    paths["/healthz"] = {"get": {
        "operationId": "healthz", "summary": "Health check", "tags": ["health"],
        "responses": {
            "200": _json("The database answers", HealthOut),
            "503": {**_json("The database does not answer or refuses writes; `detail` says "
                            "what to check", ErrorOut), "headers": RETRY_AFTER},
        },
    }}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Accounts API", "version": "1.0.0",
                 "description": "Registration, verification, JWT login and password reset."},
        "servers": [{"url": server}] if server else [],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT"}},
        },
    }


def _models() -> list[type[Schema]]:
    seen: dict[str, type[Schema]] = {"ErrorOut": ErrorOut, "HealthOut": HealthOut}
    for op in OPERATIONS:
        for model in [op.body, *(m for _, m in op.responses.values())]:
            if model is not None:
                seen[model.__name__] = model
    return list(seen.values())


HEADERS = {
    "401": {"WWW-Authenticate": {"description": "Bearer challenge", "required": True,
                                 "schema": {"type": "string"}}},
    "429": {"Retry-After": {"description": "Seconds to wait", "required": True,
                            "schema": {"type": "string"}}},
}
RETRY_AFTER = HEADERS["429"]
UNAVAILABLE = "The database is briefly unavailable (read-only, locked, restarting); nothing " \
    "was changed: try again after Retry-After"


def _json(description: str, model: type[Schema] | None) -> dict[str, Any]:
    if model is None:  # e.g. 204: no body at all
        return {"description": description}
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}}


def _with_headers(responses: dict[str, Any]) -> dict[str, Any]:
    for code, headers in HEADERS.items():
        if code in responses:
            responses[code] = {**responses[code], "headers": headers}
    return responses


def _operation(op: Operation) -> dict[str, Any]:
    responses = {str(code): _json(text, model) for code, (text, model) in op.responses.items()}
    if op.body is not None:
        responses.setdefault("400", _json("Invalid input", ErrorOut))
        for code, text in COMMON.items():
            responses.setdefault(str(code), _json(text, ErrorOut))
    else:
        responses.setdefault("429", _json(COMMON[429], ErrorOut))
    if op.auth:
        responses.setdefault("401", _json("Not authenticated", ErrorOut))
    # Any operation may meet a database fault; billing's own 503s (billing off) stay theirs.
    responses.setdefault("503", {**_json(UNAVAILABLE, ErrorOut), "headers": RETRY_AFTER})
    spec: dict[str, Any] = {
        "operationId": op.name, "summary": op.summary, "description": op.description,
        "tags": [op.tag], "responses": _with_headers(responses),
    }
    parameters = [{"name": name, "in": "path", "required": True,
                   "schema": {"type": "integer" if kind == "int" else "string"}}
                  for kind, name in PATH_PARAMETER.findall(op.rule)]
    if parameters:
        spec["parameters"] = parameters
        responses.setdefault("404", _json("Not found", ErrorOut))
    if op.body is not None:
        spec["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": REF.format(model=op.body.__name__)}}}}
    if op.auth:
        # An empty requirement makes the token optional (anonymous calls allowed).
        spec["security"] = [{"bearer": []}, {}] if op.auth == "optional" else [{"bearer": []}]
    return spec
