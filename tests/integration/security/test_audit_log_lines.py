"""Every audit event is also one JSON line in the application log, without secrets."""

from __future__ import annotations

import json
import logging

import pytest

from tests.helpers.app import PASSWORD, audit_rows


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def lines():
    handler = Lines()
    logger = logging.getLogger("webapp.audit")
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


def test_one_json_line_per_event_with_no_password_token_or_code(app, client, register,
                                                               outbox, lines):
    register("jane@example.com")
    code = outbox.code("email", "jane@example.com")
    client.post("/api/auth/email-verify/", json={"email": "jane@example.com", "code": code})
    client.post("/api/auth/login/", json={"email": "jane@example.com", "password": "nope"})
    login = client.post("/api/auth/login/", json={"email": "jane@example.com",
                                                  "password": PASSWORD},
                        headers={"X-Request-ID": "trace-42"})
    records = [json.loads(line) for line in lines]
    assert [r["event"] for r in records] == [e.kind for e in audit_rows(app)]
    assert [r["event"] for r in records] == ["user_created", "user_verified",
                                             "authn_login_fail", "authn_login_success"]
    assert all("\n" not in line for line in lines)
    success = records[-1]
    assert success["request_id"] == "trace-42" and success["ip"] == "127.0.0.1"
    assert success["time"].endswith("Z") and success["user_id"] == login.json["user"]["id"]
    text = "\n".join(lines)
    for secret in (PASSWORD, "nope", code, login.json["tokens"]["access"][:40]):
        assert secret not in text


def test_secret_looking_fields_are_redacted_in_the_store_and_the_log(app, lines):
    from webapp.application.common import Service

    app.extensions["services"]
    with app.app_context(), app.extensions["ports"].uow() as uow:
        Service(app.extensions["ports"]).audit(uow, "sys_test", None, password="hunter2",
                                reset_token="abc", detail={"otp_code": "123456", "n": 1})
        uow.commit()
    stored = audit_rows(app, "sys_test")[0].data
    assert stored == {"password": "[redacted]", "reset_token": "[redacted]",
                      "detail": {"otp_code": "[redacted]", "n": 1}}
    assert "hunter2" not in lines[-1] and "123456" not in lines[-1]


def test_the_audit_handler_masks_like_every_other_handler(app):
    from webapp.infrastructure.log_filter import SecretMaskingFilter

    handlers = logging.getLogger("webapp.audit").handlers
    ours = [h for h in handlers if getattr(h, "audit_json", False)]
    assert len(ours) == 1  # one per process, however many apps were built
    assert any(isinstance(f, SecretMaskingFilter) for f in ours[0].filters)
