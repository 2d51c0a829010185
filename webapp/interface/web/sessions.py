"""Where you are signed in (/account/sessions) and your security history (/account/activity).

The same services as ``GET /api/auth/sessions/`` and ``GET /api/auth/activity/``.
"""

from __future__ import annotations

from flask import Response, flash, request, url_for
from flask_login import current_user, login_required

from webapp.domain.errors import DomainError
from webapp.interface import services
from webapp.interface.web import bp
from webapp.interface.web.forms import ButtonForm
from webapp.interface.web.outcomes import go, show
from webapp.interface.web.session import end_session

# What each security event is called on the page (the API gives the event's name).
EVENT_LABELS = {
    "authn_login_success": "Signed in", "authn_login_fail": "Failed sign-in",
    "authn_login_lock": "Sign-in locked after failed tries", "authn_logout": "Logged out",
    "authn_logout_all": "Logged out everywhere",
    "authn_token_reuse": "A reused app token was refused; that app was signed out",
    "authn_password_change": "Password changed",
    "authn_password_change_fail": "Password change refused (wrong current password)",
    "authn_password_reset_requested": "Password reset requested",
    "authn_password_reset_done": "Password reset", "authz_admin": "Changed by staff",
    "authz_change": "Staff access changed", "user_created": "Account created",
    "user_verified": "Address verified", "unverified_address_released":
    "An unproven address was removed", "session_ended": "A session was ended",
    "sessions_ended_others": "Every other session was ended",
    "new_device_signin": "Signed in from a new device",
    "mfa_totp_added": "Authenticator app turned on",
    "mfa_totp_removed": "Authenticator app removed",
    "mfa_recovery_codes_regenerated": "New recovery codes made; the old ones stopped working",
    "mfa_recovery_code_used": "A recovery code was used",
    "mfa_turned_off_by_staff": "Second factors turned off by staff",
    "mfa_turned_off_by_undo": "Second factors removed when an address change was undone",
    "authn_mfa_success": "Second step passed", "authn_mfa_fail": "Wrong second-step code",
    "authn_reauthenticated": "Confirmed it was you",
    "authn_reauth_fail": "Failed to confirm it was you",
    "mfa_passkey_added": "Passkey added", "mfa_passkey_removed": "Passkey removed",
    "address_change_requested": "Address change asked for",
    "address_changed": "Address changed", "address_change_undone": "Address change undone",
    "account_exported": "Your data was downloaded",
    "account_delete_requested": "Account deletion asked for",
    "account_delete_cancelled": "Account deletion cancelled",
}


@bp.get("/account/sessions")
@login_required
def account_sessions() -> Response:
    """Every browser and app signed in to this account; end one, or all the others."""
    entries = services().sessions.entries(current_user.user, current_user.session_id)
    return show("web/sessions.html", {"entries": entries, "form": ButtonForm(formdata=None)})


@bp.post("/account/sessions/<session_id>/end")
@login_required
def account_session_end(session_id: str) -> Response:
    """End one session; ending this browser's own is logging out."""
    form = ButtonForm()
    if not form.validate_on_submit():
        return go(url_for("web.account_sessions"))
    if session_id == current_user.session_id:
        end_session()
        flash("You are logged out.", "success")
        return go(url_for("web.login"))
    try:
        services().sessions.end_one(current_user.user, session_id)
    except DomainError as exc:
        flash(exc.detail, "error")
        return go(url_for("web.account_sessions"))
    flash("That session has ended.", "success")
    return go(url_for("web.account_sessions"))


@bp.post("/account/sessions/end-others")
@login_required
def account_sessions_end_others() -> Response:
    """End every session but this browser's."""
    form = ButtonForm()
    if form.validate_on_submit():
        count = services().sessions.end_others(current_user.user, current_user.session_id)
        flash(f"Ended {count} other session{'s' if count != 1 else ''}.", "success")
    return go(url_for("web.account_sessions"))


@bp.get("/account/activity")
@login_required
def account_activity() -> Response:
    """Your sign-ins, failed sign-ins and security changes, newest first."""
    page = request.args.get("page", "1")
    number = int(page) if page.isascii() and page.isdigit() and len(page) < 6 else 1
    activity = services().activity.page(current_user.user.id, number)
    return show("web/activity.html", {"activity": activity, "labels": EVENT_LABELS})
