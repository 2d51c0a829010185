"""The log filter: secrets masked in messages, args and extra fields; no forged lines."""

from __future__ import annotations

import io
import json
import logging

import pytest

from webapp.infrastructure.log_filter import SecretMaskingFilter, install_log_filter, mask_text
from webapp.infrastructure.security import ItsDangerousSigner


@pytest.fixture
def logged():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(extra_field)s"))
    handler.addFilter(SecretMaskingFilter())
    logger = logging.getLogger("test.log_filter")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, stream
    logger.removeHandler(handler)


SECRETS = ["hunter2-secret", "abc123token", "123456", "rt-0123456789", "at-9876543210"]


@pytest.mark.parametrize("text", [
    "login password=hunter2-secret for jane",
    '{"email": "jane@example.com", "password": "hunter2-secret"}',
    "{'new_password': 'hunter2-secret', 'confirm_password': 'hunter2-secret'}",
    "GET /api/x?token=abc123token&page=2",
    "POST body code=123456",
    '{"code": "123456"}',
    "refresh=rt-0123456789 access=at-9876543210",
    '{"refresh": "rt-0123456789", "access": "at-9876543210"}',
    "Authorization: Bearer abc123token",
    "headers {'Authorization': 'Bearer abc123token'}",
    "stripe key sk_live_abc123token in use",
    "whsec_abc123token",
    "link http://x/reset/IjEyMyI.ZqZqZq.abc123tokenabc123token",
    "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc123token",
    "reset_token: abc123token",
    # Upper case and non-ASCII spellings that IGNORECASE matches (the cheap pre-check
    # must not let them through): the long s "\u017f" matches "s", the Kelvin sign "k".
    "PASSWORD=hunter2-secret",
    "AUTHORIZATION: BEARER abc123token",
    "\u017fecret=hunter2-secret",
    "api_\u212aey=abc123token",
])
def test_secrets_are_masked(text):
    masked = mask_text(text)
    assert not any(secret in masked for secret in SECRETS), masked
    assert "***" in masked


@pytest.mark.parametrize("path", ["/reset/", "/verify/", "/account/undo/",
                                  "/account/delete/cancel/", "/account/email/confirm/"])
def test_every_emailed_link_token_is_masked_in_the_access_log(path):
    # A payload that compresses (a longer address) makes a token ".eJ...", which looks
    # like no JWT: the path alone must give it away. An undo link sets the password.
    token = ItsDangerousSigner("k" * 40).dumps(
        "any", {"uid": 12, "cid": 3, "old": "marketing.team.marketing@marketing.example.com"})
    assert token.startswith(".")
    line = json.dumps({"method": "GET", "path": path + token, "query": "", "status": 200})
    masked = mask_text(line)
    assert token not in masked and token[:20] not in masked
    assert f'"{path}***"' in masked


def test_ordinary_text_is_kept():
    text = "GET /api/auth/me/ status_code=200 took 12ms for jane@example.com"
    assert mask_text(text) == text


def test_args_extra_fields_and_control_characters(logged):
    logger, stream = logged
    logger.warning("login for %s failed\r\nINFO forged line password=%s",
                   "jane", "hunter2-secret",
                   extra={"extra_field": {"token": "abc123token", "note": "a\nb"}})
    logger.info("body %s", json.dumps({"password": "hunter2-secret"}),
                extra={"extra_field": "refresh=rt-0123456789"})
    logger.info("%(who)s sent code=%(code)s", {"who": "jane", "code": "123456"},
                extra={"extra_field": ""})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # the CR/LF did not forge a line
    assert "\\r\\nINFO forged line" in lines[0]
    output = stream.getvalue()
    assert not any(secret in output for secret in SECRETS), output
    assert "'token': '***'" in lines[0] and "'note': 'a" in lines[0]


def test_installed_on_the_root_handlers_at_start_up():
    from webapp.infrastructure.log_filter import install_log_filter as at_start_up

    handler = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        at_start_up()  # what create_app's configure() calls
        assert any(isinstance(f, SecretMaskingFilter) for f in handler.filters)
        install_log_filter()  # idempotent
        assert sum(isinstance(f, SecretMaskingFilter) for f in handler.filters) == 1
        logging.getLogger("webapp.anything").warning("token=%s", "abc123token")
        assert "abc123token" not in handler.stream.getvalue()
    finally:
        root.removeHandler(handler)
