"""``/invite/<token>``: accept an invitation in the browser (the JSON door is
``POST /api/auth/invitations/accept/``; both call InvitationService.accept)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from webapp.domain.errors import DomainError, InvalidToken, ValidationFailed
from webapp.domain.model import User
from webapp.interface import services
from webapp.interface.web.outcomes import FORM_INVALID
from webapp.interface.web.safety import secret_page
from webapp.interface.web.session import start_session

bp = Blueprint("invite", __name__)


class AcceptForm(FlaskForm):
    first_name = StringField("First name", validators=[Length(max=100)])
    last_name = StringField("Last name", validators=[Length(max=100)])
    password = PasswordField("Choose a password", validators=[DataRequired()])
    confirm_password = PasswordField("Repeat the password", validators=[
        DataRequired(), EqualTo("password", message="The two passwords differ.")])


@bp.route("/invite/<token>", methods=["GET", "POST"])
@secret_page
def accept(token: str) -> Response | tuple[str, int]:
    """Show the invitation and the form; on a valid POST create the account and sign in."""
    invitations = services().invitations
    try:
        invitation = invitations.lookup(token)
    except InvalidToken as exc:
        return render_template("invite.html", problem=exc.detail, form=None), 400
    form = AcceptForm()
    if form.validate_on_submit():
        try:
            user = invitations.accept(token, form.password.data or "",
                                      first_name=form.first_name.data,
                                      last_name=form.last_name.data)
        except ValidationFailed as exc:
            _attach(form, exc)
        except DomainError as exc:
            return render_template("invite.html", problem=exc.detail, form=None), 400
        else:
            return _sign_in(user, form.password.data or "")
    page = render_template("invite.html", invitation=invitation, form=form, problem=None)
    return page, FORM_INVALID if form.errors else 200


def _sign_in(user: User, password: str) -> Response:
    """Signing in is a login like any other: the same audit event and bookkeeping, and
    the same refusals (an address whose logins are locked). The account exists by then,
    so a refusal says so and leads to the login page, not to "this invitation does not
    work" (and then "already used")."""
    try:
        user = services().tokens.authenticate(email=user.email, phone=None, password=password)
    except DomainError as exc:
        flash(f"Your account is ready. {exc.detail}", "error")
        return redirect(url_for("web.login"), 303)
    start_session(user)
    return redirect(_landing(user.is_staff))


def _attach(form: AcceptForm, exc: ValidationFailed) -> None:
    for name, messages in exc.errors.items():
        field = getattr(form, name, None) or form.password
        field.errors = [*field.errors, *messages]


def _landing(staff: bool) -> str:
    if staff:
        return "/admin/"
    return "/account" if "web.account" in current_app.view_functions else "/"
