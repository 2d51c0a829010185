"""Every audit event is also one JSON line in the application log (logger ``webapp.audit``).

Nothing secret goes into either place: values under names that look like a
password, token, code or secret are replaced before the event is stored.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from webapp.domain.model import AuditEvent

log = logging.getLogger("webapp.audit")

SECRET_WORDS = ("password", "token", "code", "secret", "otp", "authorization", "cookie")
REDACTED = "[redacted]"


def redacted(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with secret-looking keys masked (nested dicts too)."""
    clean: dict[str, Any] = {}
    for key, value in data.items():
        if any(word in key.lower() for word in SECRET_WORDS):
            clean[key] = REDACTED
        elif isinstance(value, dict):
            clean[key] = redacted(value)
        else:
            clean[key] = value
    return clean


def as_json_line(event: AuditEvent) -> str:
    record = {
        "type": "audit",
        "event": event.kind,
        "time": event.created_at.isoformat().replace("+00:00", "Z"),
        "user_id": event.user_id,
        "actor_id": event.actor_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "data": redacted(event.data),
    }
    return json.dumps(record, default=str, separators=(",", ":"), ensure_ascii=False)


def write_json_line(event: AuditEvent) -> None:
    log.info("%s", as_json_line(event))
