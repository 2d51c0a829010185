"""The signed-in user's page: profile, addresses, billing, password, sessions."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, flash, url_for
from flask_login import current_user, login_required
from jinja2 import TemplateNotFound

from webapp.domain.errors import DomainError, ReauthenticationRequired
from webapp.domain.model import User
from webapp.interface import services
from webapp.interface.web import bp
from webapp.interface.web.forms import ButtonForm, ChangePasswordForm, ProfileForm
from webapp.interface.web.outcomes import go, show
from webapp.interface.web.session import (
    auth_time,
    end_session,
    reauthenticate_first,
    start_session,
)

BILLING_PANEL = "billing/_panel.html"
# The billing blueprint registers a callable (User -> context) under this key.
BILLING_CONTEXT = "billing.account_context"


def billing_context(user: User) -> Any:
    """What the billing panel shows, or None when billing is not part of this app."""
    provider = current_app.extensions.get(BILLING_CONTEXT)
    if provider is None:
        return None
    try:
        current_app.jinja_env.get_template(BILLING_PANEL)
    except TemplateNotFound:
        return None
    return provider(user)


def _page(**forms: Any) -> dict[str, Any]:
    user: User = current_user.user
    return {
        "user": user,
        "profile_form": forms.get("profile_form") or ProfileForm(
            first_name=user.first_name, last_name=user.last_name),
        "password_form": forms.get("password_form") or ChangePasswordForm(formdata=None),
        "everywhere_form": ButtonForm(formdata=None),
        "billing": billing_context(user),
        "mfa": services().mfa.status(user.id or 0),
    }


@bp.get("/account")
@login_required
def account() -> Response:
    """Names, addresses and whether each is verified, billing, password, sessions."""
    return show("web/account.html", _page())


@bp.post("/account/profile")
@login_required
def account_profile() -> Response:
    """Change the first and last name."""
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            services().accounts.update_profile(current_user.user.id,
                                               first_name=form.first_name.data,
                                               last_name=form.last_name.data)
        except DomainError as exc:
            return show("web/account.html", _page(profile_form=form), form=form,
                        partial="web/_profile_form.html", error=exc)
        flash("Your name is saved.", "success")
        return go(url_for("web.account"))
    return show("web/account.html", _page(profile_form=form), form=form,
                partial="web/_profile_form.html")


@bp.post("/account/password")
@login_required
def account_password() -> Response:
    """Change the password with the current one; every other session ends, this one goes on."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            user = services().accounts.change_password(
                current_user.user.id, form.current_password.data or "",
                form.new_password.data or "", form.confirm_password.data or "",
                auth_time=auth_time())
        except ReauthenticationRequired:
            return reauthenticate_first(url_for("web.account"))
        except DomainError as exc:
            return show("web/account.html", _page(password_form=form), form=form,
                        partial="web/_password_form.html", error=exc)
        start_session(user)  # a fresh session bound to the new session version
        flash("Your password is changed. Every other session has been logged out.", "success")
        return go(url_for("web.account"))
    return show("web/account.html", _page(password_form=form), form=form,
                partial="web/_password_form.html")


@bp.post("/account/logout-everywhere")
@login_required
def logout_everywhere() -> Response:
    """End every session and revoke every API token of this account, this browser's too."""
    form = ButtonForm()
    if form.validate_on_submit():
        services().tokens.revoke_all(current_user.user.id)
        end_session()
        flash("You are logged out on every device and browser.", "success")
        return go(url_for("web.login"))
    return go(url_for("web.account"))
