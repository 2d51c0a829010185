"""Property-based run of every operation of /api/openapi.json (schemathesis over WSGI).

No 5xx, and every response (status, content type, headers, body) is one the document
describes. The number of examples is bounded so the whole run stays in seconds.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.api.conftest import bearer
from webapp.interface.api.openapi import build_document

# Bounded by default to keep the suite fast and deterministic; API_FUZZ_EXAMPLES=500 digs deeper
# (and then with random seeds).
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "15"))


@schemathesis.check
def no_server_error(ctx, response, case):  # noqa: ANN001, ANN201
    """No 5xx, except a 503 the operation documents: billing answers 503 by contract while
    Stripe is not configured, as in these tests."""
    if response.status_code == 503 and "503" in case.operation.definition.raw["responses"]:
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [no_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.fixture
def auth_headers(tokens) -> dict[str, str]:
    """A real access token, so that me/ answers 200 as well as 401."""
    return bearer(tokens["access"])


# The document the app serves (test_openapi.py checks that it is the one at /api/openapi.json);
# built at import so that pytest sees one test per operation. Requests go to each test's app.
schema = schemathesis.openapi.from_dict(build_document(""))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize="API_FUZZ_EXAMPLES" not in os.environ,
          suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_to_the_document(app, auth_headers, case):
    headers = auth_headers if case.operation.path == "/api/auth/me/" else None
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)


def call(app, path: str, method: str = "POST", headers=None, **body):  # noqa: ANN001, ANN201
    """One concrete request, validated against the document by the same checks."""
    operation = schema[path][method]
    case = operation.Case(body=body) if method == "POST" else operation.Case()
    return case.call_and_validate(app=app, headers=headers, checks=CHECKS)


def test_success_and_failure_responses_of_a_whole_journey_conform(app, outbox):
    """Random data rarely holds a valid token or code; this walks every success path."""
    email, password, new = "jane@example.com", "correct horse battery staple", "a new passphrase"
    assert call(app, "/api/auth/register/", email=email, password=password,
                phone="+14155550123", first_name="Jane").status_code == 201
    assert call(app, "/api/auth/login/", email=email, password=password).status_code == 403
    assert call(app, "/api/auth/email-verify/resend/", email=email).status_code == 202
    assert call(app, "/api/auth/email-verify/",
                token=outbox.link_token(email, "/verify/")).status_code == 200
    assert call(app, "/api/auth/phone-verify/resend/", phone="+14155550123").status_code == 202
    sms = outbox.code("sms", "+14155550123")
    # The phone is added beside the proven email: only its owner, signed in, proves it.
    assert call(app, "/api/auth/phone-verify/", phone="+14155550123",
                code=sms).json()["code"] == "sign_in_required"
    pair = call(app, "/api/auth/login/", email=email, password=password).json()["tokens"]
    assert call(app, "/api/auth/phone-verify/", headers=bearer(pair["access"]),
                phone="+14155550123", code=sms).status_code == 200
    assert call(app, "/api/auth/phone-verify/", phone="+14155550123",  # the repeat: no user
                code=sms).json() == {"detail": "Already verified."}
    assert call(app, "/api/auth/login/", email=email, password="wrong one").status_code == 401
    assert call(app, "/api/auth/me/", "GET", headers=bearer(pair["access"])).status_code == 200
    assert call(app, "/api/auth/me/", "GET").status_code == 401
    assert call(app, "/api/auth/token/verify/", token=pair["access"]).status_code == 200
    newer = call(app, "/api/auth/token/refresh/", refresh=pair["refresh"]).json()
    assert call(app, "/api/auth/token/refresh/", refresh=pair["refresh"]).status_code == 401
    assert call(app, "/api/auth/logout/", refresh=newer["refresh"]).status_code == 204
    assert call(app, "/api/auth/token/", email=email, password=password).status_code == 200
    assert call(app, "/api/auth/password-reset/", email=email).status_code == 202
    code = outbox.code("email", email)
    assert call(app, "/api/auth/password-reset/verify/", email=email, code=code
                ).status_code == 200
    assert call(app, "/api/auth/password-reset/confirm/", email=email, code=code,
                new_password=new, confirm_password=new).status_code == 200
    assert call(app, "/healthz", "GET").status_code == 200
    assert call(app, "/api/openapi.json", "GET").status_code == 200
