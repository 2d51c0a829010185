"""The browser's side of the second factor at sign-in: ``/login/mfa`` (the second step,
with "don't ask again on this browser") and ``/reauthenticate`` (sign in again before a
sensitive change). Both call the same services as ``POST /api/auth/login/mfa/`` and
``POST /api/auth/reauthenticate/``."""

from __future__ import annotations

from flask import Response, flash, redirect, request, session, url_for
from flask_login import current_user, login_required

from webapp.application.signin import Door
from webapp.domain.errors import (
    DomainError,
    InvalidToken,
    SecondFactorRequired,
    ValidationFailed,
)
from webapp.domain.mfa import TRUSTED_BROWSER_TTL
from webapp.interface import services
from webapp.interface.web import bp
from webapp.interface.web.forms import ReauthenticateForm, SecondFactorForm
from webapp.interface.web.outcomes import go, show
from webapp.interface.web.safety import safe_next
from webapp.interface.web.session import (
    browser_device,
    keep_device,
    mark_recent,
    start_session,
)

PENDING = "mfa_pending"  # the pending sign-in's token, between /login and /login/mfa
PENDING_NEXT = "mfa_next"
PENDING_METHODS = "mfa_methods"  # what the account can prove (the page offers those)
TRUSTED_COOKIE = "trusted_browser"


def trusted_browser() -> str | None:
    """The "don't ask again" cookie this browser sent, if any."""
    return request.cookies.get(TRUSTED_COOKIE)


def pause_for_second_factor(pending: SecondFactorRequired, next_path: str) -> Response:
    """The password was right and a second factor is on: on to /login/mfa."""
    session[PENDING] = pending.token
    session[PENDING_NEXT] = next_path
    session[PENDING_METHODS] = pending.methods
    return go(url_for("web.login_mfa"))


@bp.route("/login/mfa", methods=["GET", "POST"])
def login_mfa() -> Response:
    """The second step of a sign-in: a code from the app, or a recovery code."""
    token = session.get(PENDING)
    if not isinstance(token, str):
        return redirect(url_for("web.login"))
    recovery = request.args.get("with") == "recovery"
    form = SecondFactorForm()
    context = {"form": form, "recovery": recovery,
               "methods": session.get(PENDING_METHODS) or []}
    if not form.validate_on_submit():
        return show("web/login_mfa.html", context, form=form)
    box = form.recovery_code if recovery else form.code
    if not (box.data or "").strip():  # nothing typed is no guess (as in the API)
        return show("web/login_mfa.html", context, form=form, error=ValidationFailed.single(
            box.name, "Enter one of your recovery codes." if recovery
            else "Enter the 6-digit code from your authenticator app."))
    next_path = safe_next(str(session.get(PENDING_NEXT, "")), url_for("web.account"))
    device = browser_device()
    try:
        signed_in = services().second_factor.complete(
            token, code=None if recovery else box.data,
            recovery_code=box.data if recovery else None,
            door=Door.BROWSER, device=device)
    except DomainError as exc:
        if recovery and isinstance(exc, InvalidToken):  # at the box the page shows
            exc = ValidationFailed.single(box.name, exc.detail)
        return show("web/login_mfa.html", context, form=form, error=exc)
    start_session(signed_in.user)  # drops the pending token with the old session
    response = keep_device(go(next_path), device)
    if form.remember.data:
        response.set_cookie(TRUSTED_COOKIE, services().second_factor.trust(signed_in.user),
                            max_age=int(TRUSTED_BROWSER_TTL.total_seconds()), httponly=True,
                            secure=request.is_secure, samesite="Lax")
    return response


@bp.route("/reauthenticate", methods=["GET", "POST"])
@login_required
def reauthenticate() -> Response:
    """Sign in again (password, or a code from the app) before a sensitive change."""
    form = ReauthenticateForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    factors = services().mfa.status(current_user.user.id)
    context = {"form": form, "user": current_user.user, "totp": factors.totp,
               "passkeys": factors.passkeys}
    if not form.validate_on_submit():
        return show("web/reauthenticate.html", context, form=form)
    if not form.password.data and not (form.code.data or "").strip():  # no guess either
        return show("web/reauthenticate.html", context, form=form, error=ValidationFailed.single(
            "password", "Enter your password, or a code from your authenticator app."
            if factors.totp else "Enter your password."))
    try:
        services().second_factor.reauthenticate(
            current_user.user.id, password=form.password.data or None,
            code=None if form.password.data else form.code.data)
    except DomainError as exc:
        return show("web/reauthenticate.html", context, form=form, error=exc)
    mark_recent()
    flash("Thank you. You can make the change now.", "success")
    return go(safe_next(form.next.data, url_for("web.account")))
