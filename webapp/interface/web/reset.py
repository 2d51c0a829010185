"""Forgotten password: ask for a reset, then set a new password with the code or the link."""

from __future__ import annotations

from flask import Response, flash, url_for
from flask_login import current_user

from webapp.domain.errors import DomainError
from webapp.interface import services
from webapp.interface.web import bp
from webapp.interface.web.forms import NewPasswordForm, ResetCodeForm, ResetRequestForm
from webapp.interface.web.outcomes import go, show
from webapp.interface.web.safety import secret_page
from webapp.interface.web.session import end_session, pending_identifier, remember_pending

SENT = ("If an account uses that address, we have sent it a code (and, by email, a link). "
        "Enter the code below with your new password.")
CHANGED = "Your password has been changed, and every other session logged out. Log in now."


@bp.route("/reset", methods=["GET", "POST"])
def reset() -> Response:
    """Ask for a reset by email (link and code) or phone (code). The same answer for all."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        try:
            services().resets.request(**form.email_or_phone())
        except DomainError as exc:
            return show("web/reset.html", {"form": form}, form=form,
                        partial="web/_reset_form.html", error=exc)
        remember_pending(form.identifier.data, sent=True)
        flash(SENT, "success")
        return go(url_for("web.reset_code"))
    return show("web/reset.html", {"form": form}, form=form, partial="web/_reset_form.html")


@bp.route("/reset/code", methods=["GET", "POST"])
def reset_code() -> Response:
    """The code from the email or SMS, and the new password twice."""
    form = ResetCodeForm()
    if not form.is_submitted():
        form.identifier.data = pending_identifier()
    if form.validate_on_submit():
        try:
            services().resets.confirm(
                **form.email_or_phone(), code=form.code.data or "",
                new_password=form.new_password.data or "",
                confirm_password=form.confirm_password.data or "")
        except DomainError as exc:
            return show("web/reset_code.html", {"form": form}, form=form,
                        partial="web/_reset_code_form.html", error=exc)
        return _changed()
    return show("web/reset_code.html", {"form": form}, form=form,
                partial="web/_reset_code_form.html")


@bp.route("/reset/<token>", methods=["GET", "POST"])
@secret_page
def reset_link(token: str) -> Response:
    """The emailed link: checked when shown (nothing spent), spent when the form is sent."""
    form = NewPasswordForm()
    context = {"form": form, "token": token}
    if form.validate_on_submit():
        try:
            services().resets.confirm(token=token, new_password=form.new_password.data or "",
                                      confirm_password=form.confirm_password.data or "")
        except DomainError as exc:
            return show("web/reset_link.html", context, form=form,
                        partial="web/_reset_link_form.html", error=exc)
        return _changed()
    if not form.is_submitted():
        try:
            services().resets.check(token=token)
        except DomainError as exc:
            return show("web/reset_link.html", {**context, "dead": True}, form=form, error=exc)
    return show("web/reset_link.html", context, form=form, partial="web/_reset_link_form.html")


def _changed() -> Response:
    """On to the login page, signed out. A browser signed in to another account (a reset
    link opened where someone else is signed in, as allauth does) is logged out of it:
    otherwise "Log in now" showed on that account's page, as if its password had changed.
    Not signed in, the session is kept: the login form is filled in with the address."""
    if current_user.is_authenticated:
        end_session()
    flash(CHANGED, "success")
    return go(url_for("web.login"))
