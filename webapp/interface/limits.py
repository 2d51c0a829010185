"""Per-client-address limits at the doors (Flask-Limiter), in one registration.

``ENDPOINT_LIMITS`` maps each view (API and browser alike) to a rule of the
table in webapp/application/throttling.py; views of one rule share one budget
per address (``/api/auth/login/``, ``/api/auth/token/`` and the ``/login`` page are
one ``login`` budget). The address is ``request.remote_addr`` after ProxyFix, so
only ``TRUSTED_PROXIES`` hops of ``X-Forwarded-For`` are believed; an IPv6 client counts
as its /64 (``limited_network``).

The per-account and per-destination limits are not here: the services apply
them, so every door gets them.

The table is checked when the app is built: a name that is no view of the app (a view
renamed or moved to another blueprint) or no rule of the limit table stops the start
with an error, instead of silently leaving a door unguarded.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app

from webapp.application.throttling import DEFAULT_LIMITS
from webapp.interface.client_address import limit_key

ENDPOINT_LIMITS: dict[str, str] = {
    # JSON API
    "api.login": "login",
    "api.token_obtain": "login",
    "api.token_refresh": "refresh",
    "api.register": "register",
    "api.email_verify_resend": "resend",
    "api.phone_verify_resend": "resend",
    "api.password_reset": "reset",
    "api.email_verify": "code",
    "api.phone_verify": "code",
    "api.password_reset_verify": "code",
    "api.password_reset_confirm": "code",
    "api.invitation_accept": "code",
    # Second factor: a code at sign-in or to sign in again is a guess like a password.
    "api.login_mfa": "login",
    "api.reauthenticate": "login",
    "api.mfa_totp_confirm": "code",
    # Changing factors is no guess, but each change emails the user: the same budget.
    "api.mfa_totp_setup": "code",
    "api.mfa_totp_delete": "code",
    "api.mfa_recovery_codes": "code",
    # Passkeys: a sign-in like any other; options write a challenge (the budget of codes).
    "api.passkey_login": "login",
    "api.passkey_login_options": "code",
    "api.login_mfa_options": "code",
    "api.reauthenticate_options": "code",
    "api.email_change": "resend",  # each sends messages, like a resend
    "api.phone_change": "resend",
    "api.email_change_confirm": "code",
    "api.phone_change_confirm": "code",
    "api.email_change_undo": "code",
    "api.account_delete_cancel": "code",
    # Any verified user may invite when INVITATIONS_BY_USERS is on; the staff page
    # (admin.invitations) is staff only and not limited, like the other admin actions.
    "api.invitation_create": "invite",
    # Browser pages (POST only).
    "web.login": "login",
    "web.login_mfa": "login",
    "web.reauthenticate": "login",
    "web.login_passkey": "login",
    "web.login_mfa_passkey": "login",
    "web.reauthenticate_passkey": "login",
    "web.login_passkey_options": "code",
    "web.login_mfa_passkey_options": "code",
    "web.reauthenticate_passkey_options": "code",
    "web.account_password": "login",  # the current password is a guess too
    "web.signup": "register",
    "web.verify_resend": "resend",
    "web.reset": "reset",
    "web.verify": "code",
    "web.verify_link": "code",
    "web.reset_code": "code",
    "web.reset_link": "code",
    "web.invite": "code",
    # /account/security: the first code of an app is a guess; the rest email the user.
    "web.security_totp_confirm": "code",
    "web.security_totp_start": "code",
    "web.security_totp_remove": "code",
    "web.security_recovery_codes": "code",
    "web.account_email": "resend",
    "web.account_phone": "resend",
    "web.account_email_confirm": "code",
    "web.account_email_link": "code",
    "web.account_phone_confirm": "code",
    "web.account_undo": "code",
    "web.account_delete_cancel": "code",
}

_decorators: dict[str, object] = {}
WAIT_STATUSES = frozenset({429, 503})
# Flask-Limiter's wait goes under this name (RATELIMIT_HEADER_RETRY_AFTER), never to a
# client: it would put it on every answer of a limited view, and raise a service's own
# Retry-After (1 s for a guess while another is checked) to its window's reset.
LIMITER_RETRY_AFTER = "X-Limiter-Retry-After"


def _retry_after_only_when_refused(response: Response) -> Response:
    """``Retry-After`` only on a refusal: the service's own when it refused (its per-address
    window had room, or the view would not have run), else Flask-Limiter's."""
    limiter_wait = response.headers.pop(LIMITER_RETRY_AFTER, None)
    if response.status_code not in WAIT_STATUSES:
        response.headers.pop("Retry-After", None)
    elif "Retry-After" not in response.headers and limiter_wait is not None:
        response.headers["Retry-After"] = limiter_wait
    return response


def _rule_limit(rule: str):  # noqa: ANN202
    return lambda: current_app.config["SETTINGS"].RATELIMITS[rule]


def _decorator(rule: str):  # noqa: ANN202
    # One decorator per rule for the life of the process: Flask-Limiter registers
    # limits globally, and a second one per app would count every request twice.
    if rule not in _decorators:
        from webapp.extensions import limiter  # created on first use (~2 MiB)

        _decorators[rule] = limiter.shared_limit(
            _rule_limit(rule), scope=f"ip-{rule}", key_func=limit_key,
            methods=["POST", "DELETE"])
    return _decorators[rule]


class UnknownLimitTarget(RuntimeError):
    """ENDPOINT_LIMITS names a view the app does not have, or a rule the table does not."""


def check_limit_table(app: Flask, endpoints: dict[str, str]) -> None:
    problems = [f"{endpoint!r} is not a view of this app" for endpoint in endpoints
                if endpoint not in app.view_functions]
    problems += [f"{endpoint!r}: {rule!r} is not a limit of DEFAULT_LIMITS"
                 for endpoint, rule in endpoints.items() if rule not in DEFAULT_LIMITS]
    if problems:
        raise UnknownLimitTarget("webapp/interface/limits.py ENDPOINT_LIMITS: "
                                 + "; ".join(problems))


def register_rate_limits(app: Flask, endpoints: dict[str, str] | None = None) -> None:
    """Wrap each listed view with its rule's per-address limit (all must exist)."""
    table = endpoints or ENDPOINT_LIMITS
    check_limit_table(app, table)
    # Only Flask-Limiter adds the header to a success: without limits, nothing to take off.
    if app.config["RATELIMIT_ENABLED"] and not app.extensions.get("retry_after_only_when_refused"):
        app.extensions["retry_after_only_when_refused"] = True
        # After-request functions run last-registered first: at the front, this one runs
        # after Flask-Limiter's, which adds the header.
        app.after_request_funcs.setdefault(None, []).insert(0, _retry_after_only_when_refused)
    if not app.config.get("RATELIMIT_ENABLED", True):
        return  # Flask-Limiter's wrapper would only pass every request through
    for endpoint, rule in table.items():
        view = app.view_functions[endpoint]
        if not getattr(view, "_ip_limited", False):
            wrapped = _decorator(rule)(view)  # type: ignore[operator]
            wrapped._ip_limited = True  # type: ignore[attr-defined]
            app.view_functions[endpoint] = wrapped


def announce_limit_stores(app: Flask) -> None:
    """Log where each limit counts (worked out when the app is built): at the start of a
    process that serves requests or delivers messages. Nothing when limits are off."""
    line = app.extensions.get("limit_stores")
    if line:
        logging.getLogger("webapp.limits").info("%s", line)
