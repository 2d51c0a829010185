"""``/account/security``: the authenticator app and the recovery codes (passkeys join
through the ``web/_passkeys.html`` partial). The same MfaService as ``/api/auth/mfa/``;
setting up, removing and new codes need a recent sign-in (else /reauthenticate first).

Recovery codes are shown once, in the answer to the POST that made them, and never
stored in clear anywhere. A set-up's secret is shown again (a wrong code, a reload) only
to the browser that started it: the session keeps a mark from ``start_totp``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, session, url_for
from flask_login import current_user, login_required

from webapp.domain.errors import Conflict, DomainError, ReauthenticationRequired
from webapp.interface import services
from webapp.interface.web import bp
from webapp.interface.web.forms import ButtonForm, TotpConfirmForm
from webapp.interface.web.outcomes import go, show
from webapp.interface.web.passkeys import passkeys_context
from webapp.interface.web.session import auth_time, reauthenticate_first

SETUP_MARK = "totp_setup"  # this browser started the pending set-up
PAGE = "/account/security"


def _user_id() -> int:
    return int(current_user.user.id)


def _private(response: Response) -> Response:
    """Secrets and recovery codes never go into a cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get(PAGE)
@login_required
def security() -> Response:
    """Whether an authenticator app is on and how many recovery codes are left."""
    context = {"user": current_user.user, "status": services().mfa.status(_user_id()),
               "form": ButtonForm(formdata=None), **passkeys_context(_user_id())}
    return _private(show("web/security.html", context))


@bp.post(f"{PAGE}/totp")
@login_required
def security_totp_start() -> Response:
    """Start setting up an authenticator app (a new secret, pending until confirmed)."""
    if not ButtonForm().validate_on_submit():
        return go(url_for("web.security"))
    try:
        services().mfa.start_totp(_user_id(), auth_time())
    except ReauthenticationRequired:
        return reauthenticate_first(url_for("web.security"))
    except Conflict as exc:
        flash(exc.detail, "error")
        return go(url_for("web.security"))
    session[SETUP_MARK] = True
    return go(url_for("web.security_totp"))


def _setup_page(form: TotpConfirmForm, error: DomainError | None = None) -> Response:
    setup = services().mfa.pending_totp(_user_id()) if session.get(SETUP_MARK) else None
    if setup is None:
        session.pop(SETUP_MARK, None)
        return go(url_for("web.security"))
    return _private(show("web/security_setup.html", {"setup": setup, "form": form},
                         form=form, partial="web/_totp_setup.html", error=error))


@bp.get(f"{PAGE}/totp")
@login_required
def security_totp() -> Response:
    """The set-up in progress: the QR code, the secret as text, and the code box."""
    return _setup_page(TotpConfirmForm(formdata=None))


@bp.post(f"{PAGE}/totp/confirm")
@login_required
def security_totp_confirm() -> Response:
    """A right code turns the app on; the answer shows the recovery codes, once."""
    form = TotpConfirmForm()
    if not form.validate_on_submit():
        return _setup_page(form)
    had_codes = services().mfa.status(_user_id()).recovery_codes_left  # made with a passkey
    try:
        codes = services().mfa.confirm_totp(_user_id(), form.code.data or "0")
    except DomainError as exc:
        return _setup_page(form, exc)
    session.pop(SETUP_MARK, None)
    return _codes_page(codes, "Your authenticator app is on." + (
        " These recovery codes replace the ones you had: those no longer work."
        if had_codes else ""), form)


def _codes_page(codes: list[str], done: str, form: Any) -> Response:
    context = {"codes": codes, "done": done, "user": current_user.user,
               "site": services().policy.site_name}
    return _private(show("web/security_codes.html", context, form=form,
                         partial="web/_recovery_codes.html"))


# --- removing the app, new recovery codes: a confirmation step, then the change ----------

CONFIRM: dict[str, tuple[str, str, str]] = {
    "remove": ("Remove the authenticator app?",
               "Signing in will ask only for your password again. Your recovery codes stop "
               "working too. We will email you about the change.",
               "Yes, remove the app"),
    "recovery-codes": ("Make new recovery codes?",
                       "You get 10 new codes to save; the ones you have now stop working at "
                       "once. We will email you about the change.",
                       "Yes, make new codes"),
}
# With a passkey left, the app is not the last factor: the second step and the codes stay.
REMOVE_BESIDE_PASSKEY = ("Signing in will still ask for a passkey after your password, and "
                         "your recovery codes keep working. We will email you about the "
                         "change.")


def _confirm_page(what: str) -> Response:
    title, explanation, button = CONFIRM[what]
    if what == "remove" and services().mfa.status(_user_id()).passkeys:
        explanation = REMOVE_BESIDE_PASSKEY
    return _private(show("web/security_confirm.html", {
        "title": title, "explanation": explanation, "button": button, "what": what,
        "form": ButtonForm(formdata=None)}))


@bp.get(f"{PAGE}/<any(remove, 'recovery-codes'):what>")
@login_required
def security_confirm(what: str) -> Response:
    """Ask first (after a recent sign-in, so the answer is not lost to /reauthenticate)."""
    try:
        services().mfa.require_recent(auth_time())
    except ReauthenticationRequired:
        return reauthenticate_first(url_for("web.security_confirm", what=what))
    return _confirm_page(what)


@bp.post(f"{PAGE}/remove")
@login_required
def security_totp_remove() -> Response:
    """Remove the authenticator app (and with it the recovery codes)."""
    if not ButtonForm().validate_on_submit():
        return go(url_for("web.security"))
    try:
        services().mfa.disable_totp(_user_id(), auth_time())
    except ReauthenticationRequired:
        return reauthenticate_first(url_for("web.security_confirm", what="remove"))
    except Conflict as exc:
        flash(exc.detail, "error")
        return go(url_for("web.security"))
    flash("The authenticator app is removed. " + (
        "Signing in asks for a passkey after your password." if services().mfa.status(
            _user_id()).passkeys else "Signing in asks only for your password now."), "success")
    return go(url_for("web.security"))


@bp.post(f"{PAGE}/recovery-codes")
@login_required
def security_recovery_codes() -> Response:
    """Ten new recovery codes, shown once; the old ones die."""
    form = ButtonForm()
    if not form.validate_on_submit():
        return go(url_for("web.security"))
    try:
        codes = services().mfa.regenerate_recovery_codes(_user_id(), auth_time())
    except ReauthenticationRequired:
        return reauthenticate_first(url_for("web.security_confirm", what="recovery-codes"))
    except Conflict as exc:
        flash(exc.detail, "error")
        return go(url_for("web.security"))
    return _codes_page(codes, "Your new recovery codes are ready; the old ones no longer work.",
                       form)
