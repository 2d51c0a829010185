"""One notion of the client's address: ``request.remote_addr`` after ProxyFix.

``TRUSTED_PROXIES`` hops of ``X-Forwarded-For`` are believed (werkzeug's ProxyFix,
installed by create_app), none otherwise; nothing here reads the header itself. The
rate limits (Flask-Limiter's key: its network, see ``limit_key``), the audit trail
(infrastructure/request_context.py) and the browser session's binding all use this address.
"""

from __future__ import annotations

from hashlib import sha512

from flask import request

from webapp.domain.sessions import limited_network


def client_address() -> str:
    return request.remote_addr or ""


def limit_key() -> str:
    """The per-client-address limits' key: one budget for an IPv6 client's whole /64.
    Never empty (gunicorn on a unix socket gives no address): Flask-Limiter skips a limit
    whose key is empty, so such requests share one budget instead, as behind a proxy."""
    return limited_network(client_address()) or "unknown"


def session_identifier() -> str:
    """Flask-Login's "strong" session protection binds a session to this value.

    Flask-Login's own one hashes ``X-Forwarded-For`` as sent, so a thief replaying a
    cookie passed by adding the victim's address in that header; this one hashes the
    address the proxies vouch for, and the user agent, as Flask-Login does.
    """
    base = f"{client_address()}|{request.headers.get('User-Agent', '')}"
    return sha512(base.encode("utf-8", errors="replace")).hexdigest()
