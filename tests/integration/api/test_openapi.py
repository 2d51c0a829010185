"""GET /api/openapi.json: OpenAPI 3.1, every registered route, every documented status;
and a schemathesis run over all operations that must find no 5xx and no response that
breaks the document."""

from __future__ import annotations

import re

import pytest

# Every endpoint of the contract's JSON API table (billing and invitations are documented by
# the issues that add them) with the statuses the contract names.
CONTRACT = {
    ("post", "/api/auth/register/"): {201, 400},
    ("post", "/api/auth/login/"): {200, 401, 403, 429},
    ("post", "/api/auth/token/"): {200, 401, 403, 429},
    ("post", "/api/auth/token/refresh/"): {200, 401},
    ("post", "/api/auth/token/verify/"): {200, 401},
    ("post", "/api/auth/logout/"): {204},
    ("get", "/api/auth/me/"): {200, 401},
    ("post", "/api/auth/email-verify/"): {200, 400},
    ("post", "/api/auth/email-verify/resend/"): {202, 429},
    ("post", "/api/auth/phone-verify/"): {200, 400},
    ("post", "/api/auth/phone-verify/resend/"): {202, 429},
    ("post", "/api/auth/password-reset/"): {202, 429},
    ("post", "/api/auth/password-reset/verify/"): {200, 400},
    ("post", "/api/auth/password-reset/confirm/"): {200, 400},
    ("get", "/api/auth/sessions/"): {200, 401},
    ("delete", "/api/auth/sessions/{session_id}/"): {204, 400, 401, 404},
    ("post", "/api/auth/sessions/revoke-others/"): {204, 401},
    ("get", "/api/auth/activity/"): {200, 400, 401},
    ("get", "/api/openapi.json"): {200},
    ("get", "/healthz"): {200, 503},
}
IMPLICIT = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_is_openapi_31_with_info_and_bearer_scheme(document):
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] and document["info"]["version"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_describes_every_registered_api_route_and_method(app, document):
    registered = {
        (method.lower(), openapi_path(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") or rule.rule == "/healthz"
        for method in (rule.methods or set()) - IMPLICIT
    }
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert registered == documented


def test_documents_every_status_of_the_contract(document):
    for (method, path), statuses in CONTRACT.items():
        op = document["paths"][path][method]
        assert statuses <= {int(code) for code in op["responses"]}, (method, path)


def test_every_operation_is_complete(document):
    schemas = document["components"]["schemas"]
    operation_ids = set()
    for path, item in document["paths"].items():
        for method, op in item.items():
            assert op["operationId"] not in operation_ids
            operation_ids.add(op["operationId"])
            assert op["summary"] and op["responses"]
            if "requestBody" in op:
                assert {"400", "413", "415"} <= set(op["responses"]), path
            if op.get("security"):
                assert op["responses"]["401"]["headers"]["WWW-Authenticate"], path
            for code, response in op["responses"].items():
                if code == "204":
                    assert "content" not in response, path
                for media in response.get("content", {}).values():
                    ref = media["schema"].get("$ref")
                    assert ref is None or ref.rsplit("/", 1)[1] in schemas, (path, ref)


def test_sessions_and_activity_are_arrays_of_the_contracts_fields(document):
    schemas = document["components"]["schemas"]
    assert schemas["SessionListOut"]["type"] == "array"
    assert set(schemas["SessionOut"]["properties"]) >= {
        "id", "kind", "created_at", "last_seen_at", "ip", "user_agent", "device", "current"}
    assert set(schemas["ActivityOut"]["properties"]) >= {"event", "at", "ip", "user_agent"}
    [param] = document["paths"]["/api/auth/sessions/{session_id}/"]["delete"]["parameters"]
    assert (param["name"], param["in"], param["required"]) == ("session_id", "path", True)


def test_error_schema_matches_the_contract(document):
    error = document["components"]["schemas"]["ErrorOut"]
    assert set(error["required"]) == {"detail", "code"}
    assert set(error["properties"]) == {"detail", "code", "errors"}


def test_request_schemas_match_what_the_views_accept(document):
    register = document["components"]["schemas"]["RegisterIn"]
    assert set(register["properties"]) == {"email", "phone", "password", "first_name",
                                           "last_name"}
    assert register["required"] == ["password"]
