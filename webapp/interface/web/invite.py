"""``/invite/<token>``: accept an invitation in the browser (the JSON door is
``POST /api/auth/invitations/accept/``; both call InvitationService.accept, then sign in
through the same pipeline)."""

from __future__ import annotations

from flask import Response, current_app, flash, redirect, url_for

from webapp.application.signin import Door
from webapp.domain.errors import DomainError, InvalidToken, ValidationFailed
from webapp.domain.model import User
from webapp.interface import services
from webapp.interface.web import bp
from webapp.interface.web.forms import InvitationForm
from webapp.interface.web.outcomes import show
from webapp.interface.web.safety import secret_page
from webapp.interface.web.session import start_session

TEMPLATE = "web/invite.html"


@bp.route("/invite/<token>", methods=["GET", "POST"])
@secret_page
def invite(token: str) -> Response:
    """Show the invitation and the form; on a valid POST create the account and sign in."""
    invitations = services().invitations
    try:
        invitation = invitations.lookup(token)
    except InvalidToken as exc:
        return _problem(exc)
    form = InvitationForm()
    context = {"invitation": invitation, "form": form, "problem": None}
    if not form.validate_on_submit():
        return show(TEMPLATE, context, form=form)
    try:
        user = invitations.accept(
            token,
            form.password.data or "",
            first_name=form.first_name.data,
            last_name=form.last_name.data,
        )
    except ValidationFailed as exc:
        return show(TEMPLATE, context, form=form, error=exc)
    except DomainError as exc:
        return _problem(exc)
    return _sign_in(user, form.password.data or "")


def _problem(exc: DomainError) -> Response:
    """The invitation cannot be used (invalid, expired, revoked, spent): said, no form."""
    response = show(TEMPLATE, {"problem": exc.detail, "form": None})
    response.status_code = 400
    return response


def _sign_in(user: User, password: str) -> Response:
    """Signing in is a sign-in like any other: the same pipeline, audit event and
    refusals (an address whose logins are locked). The account exists by then, so a
    refusal says so and leads to the login page, not to "this invitation does not work"
    (and then "already used")."""
    try:
        signed_in = services().signin.with_password(
            email=user.email, phone=None, password=password, door=Door.BROWSER
        )
    except DomainError as exc:
        flash(f"Your account is ready. {exc.detail}", "error")
        return redirect(url_for("web.login"), 303)
    start_session(signed_in.user)
    return redirect(_landing(signed_in.user.is_staff))


def _landing(staff: bool) -> str:
    if staff:
        return "/admin/"
    return "/account" if "web.account" in current_app.view_functions else "/"
