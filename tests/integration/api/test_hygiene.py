"""Every /api/* failure is a JSON error {detail, code, errors?}: never a 500, never HTML.

Parametrized over the operations of the OpenAPI document, so a new endpoint is
covered the moment it is registered.
"""

from __future__ import annotations

import io
import json

import pytest
import requests

from tests.conftest import make_app
from tests.integration.api.conftest import assert_error
from webapp.domain import errors as domain
from webapp.extensions import db
from webapp.interface.api.base import MAX_BODY
from webapp.interface.api.openapi import build_document

DOCUMENT = build_document("")
SCHEMAS = DOCUMENT["components"]["schemas"]
BODY_OPERATIONS = [
    (path, method) for path, item in DOCUMENT["paths"].items()
    for method, op in item.items() if "requestBody" in op
]
# What a server that de-chunks the body itself (Werkzeug's, gunicorn) passes on: no length.
CHUNKED = {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}
POST_PATHS = [path for path, method in BODY_OPERATIONS if method == "post"]


def body_properties(path: str, method: str = "post") -> dict[str, dict]:
    ref = DOCUMENT["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return SCHEMAS[ref["$ref"].rsplit("/", 1)[1]]["properties"]


def body_fields(path: str, method: str = "post") -> list[str]:
    return list(body_properties(path, method))


def test_the_parametrization_sees_the_contract_endpoints():
    assert "/api/auth/register/" in POST_PATHS and "/api/auth/password-reset/confirm/" in POST_PATHS
    assert len(POST_PATHS) >= 13


@pytest.fixture(scope="module")
def app(tmp_path_factory):  # noqa: ANN201
    """One app for the module: these requests are refused before they change anything."""
    app = make_app(tmp_path_factory.mktemp("hygiene"))
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture(params=POST_PATHS)
def path(request) -> str:
    return request.param


def post_raw(client, path: str, data: bytes, content_type: str = "application/json"):  # noqa: ANN001, ANN201
    return client.post(path, data=data, content_type=content_type)


def test_malformed_json_is_400(client, path):
    for raw in (b"{", b'{"email": }', b"{'a': 1}", b"NaN}", b"[" * 50_000):
        assert_error(post_raw(client, path, raw), 400, "malformed_json")


@pytest.mark.parametrize("raw", [b"[]", b'"x"', b"3", b"null", b"true", b"[{}]"])
def test_a_body_that_is_not_an_object_is_400(client, path, raw):
    assert_error(post_raw(client, path, raw), 400, "invalid_body")


def test_invalid_utf8_is_400(client, path):
    assert_error(post_raw(client, path, b'{"email": "\xff\xfe"}'), 400, "invalid_encoding")


def test_a_field_named_twice_is_400(client, path):
    """Which of two values counts is a parser's choice (Python's json: the last; a proxy or
    a log may read the first): a body that names a field twice is refused, not guessed."""
    for raw in (b'{"email": "a@example.com", "email": "b@example.com"}',
                b'{"credential": {"id": "x", "id": "y"}}'):
        body = assert_error(post_raw(client, path, raw), 400, "duplicate_field")
        assert "email" in body["detail"] or "id" in body["detail"]


def test_non_json_content_type_is_415(client, path):
    for content_type in ("text/plain", "application/x-www-form-urlencoded",
                         "multipart/form-data; boundary=x"):
        assert_error(post_raw(client, path, b'{"email": "a@example.com"}', content_type), 415)


def test_a_body_over_64_kib_is_413(client, path):
    body = json.dumps({"email": "a" * MAX_BODY}).encode()
    assert_error(post_raw(client, path, body), 413, "too_large")
    over_app_limit = b" " * (2 * 1024 * 1024)
    assert_error(post_raw(client, path, over_app_limit), 413)


def test_a_chunked_body_over_64_kib_is_413(client, path):
    """No Content-Length: the limit is enforced while reading the stream."""
    body = json.dumps({"email": "a" * MAX_BODY}).encode()
    response = client.post(path, input_stream=io.BytesIO(body), content_type="application/json",
                           environ_overrides=CHUNKED)
    assert_error(response, 413, "too_large")


def test_a_chunked_body_over_64_kib_is_413_from_a_real_server(server):
    body = json.dumps({"email": "a" * MAX_BODY}).encode()
    chunks = (body[i:i + 4096] for i in range(0, len(body), 4096))  # Transfer-Encoding: chunked
    response = requests.post(f"{server}/api/auth/register/", data=chunks, timeout=30,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_a_chunked_body_under_the_limit_is_read(client):
    body = b'{"email": "chunked@example.com", "password": "correct horse battery staple"}'
    response = client.post("/api/auth/register/", input_stream=io.BytesIO(body),
                           content_type="application/json",
                           environ_overrides=CHUNKED)
    assert response.status_code == 201


def test_an_empty_body_is_a_validation_error(client, path):
    for response in (post_raw(client, path, b""), client.post(path)):
        assert_error(response, 400)


def schema_types(schema: dict) -> set[str]:
    """The JSON types a property's schema allows (through anyOf too)."""
    found = {schema["type"]} if isinstance(schema.get("type"), str) else set()
    for option in schema.get("anyOf", []):
        found |= schema_types(option)
    return found


@pytest.mark.parametrize("value", [3, 1.5, True, ["a"], {"a": 1}, "\ud800"],
                         ids=["int", "float", "bool", "list", "dict", "lone-surrogate"])
def test_wrong_types_are_400_naming_the_field(client, path, value):
    for field, schema in body_properties(path).items():
        if isinstance(value, bool) and schema.get("type") == "boolean":
            continue  # the right type for a flag such as invitations' "staff"
        if isinstance(value, dict) and "object" in schema_types(schema):
            continue  # the right type for a passkey's "credential" (a JSON object)
        response = client.post(path, json={field: value})
        body = assert_error(response, 400, "invalid")
        assert field in body["errors"], (field, body)


def test_get_on_a_post_endpoint_is_405_with_allow(client, path):
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        response = client.open(path, method=method)
        assert_error(response, 405, "method_not_allowed")
        assert "POST" in response.headers["Allow"]


def test_post_on_a_get_endpoint_is_405(client):
    response = client.post("/api/auth/me/", json={})
    assert_error(response, 405)
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("url", ["/api/nope", "/api/", "/api", "/api/auth/", "/api/auth/me/x",
                                 "/api/auth/register/%ff"])
def test_unknown_api_paths_are_404_json(client, url):
    for method in ("GET", "POST"):
        assert_error(client.open(url, method=method), 404, "not_found")


def test_no_slash_redirect_and_options_carry_no_html(client):
    redirect = client.post("/api/auth/register", json={})
    assert redirect.status_code == 308
    assert redirect.mimetype == "application/json"
    assert redirect.headers["Location"].endswith("/api/auth/register/")
    options = client.options("/api/auth/register/")
    assert options.status_code == 204 and "POST" in options.headers["Allow"]
    assert "html" not in options.headers.get("Content-Type", "")


def test_security_headers_and_no_store_on_api(client):
    response = client.post("/api/auth/token/", json={"email": "a@example.com", "password": "x"})
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"]


# --- the one error handler -------------------------------------------------------------

RAISED = [
    (domain.ValidationFailed({"email": ["Bad."]}), 400, "invalid"),
    (domain.InvalidCredentials(), 401, "invalid_credentials"),
    (domain.AuthenticationRequired(), 401, "not_authenticated"),
    (domain.InvalidToken(), 400, "invalid_token"),
    (domain.Unverified(), 403, "unverified"),
    (domain.PermissionDenied(), 403, "permission_denied"),
    (domain.RegistrationClosed(), 403, "registration_closed"),
    (domain.NotFound(), 404, "not_found"),
    (domain.Throttled(30), 429, "throttled"),
    (domain.ServiceUnavailable(), 503, "unavailable"),
    (domain.DomainError(), 400, "error"),
]


@pytest.mark.parametrize(("exc", "status", "code"), RAISED, ids=lambda v: getattr(
    v, "__name__", None) or type(v).__name__ if isinstance(v, Exception) else str(v))
def test_a_domain_error_from_any_service_maps_through_the_one_handler(
        app, client, monkeypatch, exc, status, code):
    def fail(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise exc

    services = app.extensions["services"]
    monkeypatch.setattr(services.resets, "request", fail)
    monkeypatch.setattr(services.tokens, "user_for_access", fail)
    for response in (client.post("/api/auth/password-reset/", json={"email": "a@example.com"}),
                     client.get("/api/auth/me/", headers={"Authorization": "Bearer x"})):
        body = assert_error(response, status, code)
        if status == 429:
            assert response.headers["Retry-After"] == "30"
        if code == "invalid":
            assert body["errors"] == {"email": ["Bad."]}
        else:
            assert "errors" not in body


def test_an_unexpected_exception_is_a_json_500_without_details(app, client, monkeypatch):
    def crash(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.extensions["services"].resets, "request", crash)
    response = client.post("/api/auth/password-reset/", json={"email": "a@example.com"})
    body = assert_error(response, 500, "server_error")
    assert "secret" not in response.get_data(as_text=True)
    assert body["detail"]
