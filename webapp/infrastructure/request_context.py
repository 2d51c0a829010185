"""Who is calling, for the audit trail, read from Flask's request (after ProxyFix)."""

from __future__ import annotations

from flask import g, has_request_context, request

from webapp.application.interfaces import RequestInfo


class FlaskRequestContext:
    def current(self) -> RequestInfo:
        if not has_request_context():
            return RequestInfo()
        return RequestInfo(
            ip=(request.remote_addr or "")[:45],
            user_agent=(request.user_agent.string or "")[:255],
            request_id=str(getattr(g, "request_id", ""))[:64],
        )
