"""The browser's side of changing an address, downloading one's data and deleting the
account: ``/account/email``, ``/account/phone``, ``/account/undo/<token>``,
``/account/export``, ``/account/delete`` and ``/account/delete/cancel/<token>``. They call
the same services as the ``email-change/``, ``phone-change/``, ``me/export/`` and ``me/``
endpoints."""

from __future__ import annotations

from flask import Response, flash, request, url_for
from flask_login import current_user, login_required

from webapp.domain.errors import DomainError, InvalidToken, ReauthenticationRequired
from webapp.domain.values import Channel
from webapp.interface import services
from webapp.interface.downloads import export_response
from webapp.interface.web import bp
from webapp.interface.web.forms import (
    ButtonForm,
    ChangeCodeForm,
    NewEmailForm,
    NewPhoneForm,
    UndoForm,
)
from webapp.interface.web.outcomes import go, put_error, show
from webapp.interface.web.session import auth_time, end_session, reauthenticate_first

PAGES = {Channel.EMAIL: ("web.account_email", NewEmailForm),
         Channel.PHONE: ("web.account_phone", NewPhoneForm)}


def _page(channel: Channel, form=None, code_form=None) -> Response:  # noqa: ANN001
    user = current_user.user
    return show("web/account_address.html", {
        "user": user, "channel": channel.value, "current": user.address(channel),
        "verified": user.verified_at(channel) is not None,
        "pending": services().address_changes.pending(user.id, channel),
        "form": form or PAGES[channel][1](formdata=None),
        "code_form": code_form or ChangeCodeForm(formdata=None),
    }, form=form or code_form)


def _request(channel: Channel) -> Response:
    endpoint, form_class = PAGES[channel]
    form = form_class()
    if not form.validate_on_submit():
        return _page(channel, form)
    value = form.data.get(f"new_{channel.value}") or ""
    try:
        services().address_changes.request(current_user.user.id, channel, value, auth_time())
    except ReauthenticationRequired:
        return reauthenticate_first(url_for(endpoint))
    except DomainError as exc:
        return _with_error(channel, exc, form=form)
    if value.strip():
        flash("Check the new address for a code (by email, also a link) to confirm it.",
              "success")
        return go(url_for(endpoint))
    flash(f"Your {'email address' if channel is Channel.EMAIL else 'phone number'} "
          "is removed.", "success")
    return go(url_for("web.account"))


def _with_error(channel: Channel, exc: DomainError, **forms) -> Response:  # noqa: ANN003
    """The page again, the error on the form that was sent."""
    status = put_error(next(iter(forms.values())), exc)
    response = _page(channel, **forms)
    response.status_code = status
    return response


def _confirm(channel: Channel) -> Response:
    form = ChangeCodeForm()
    if not form.validate_on_submit():
        return _page(channel, code_form=form)
    try:
        services().address_changes.confirm(current_user.user.id, channel, code=form.code.data or "")
    except DomainError as exc:
        return _with_error(channel, exc, code_form=form)
    flash("Your new address is saved. The previous one was told, with a way to undo it.",
          "success")
    return go(url_for("web.account"))


@bp.route("/account/email", methods=["GET", "POST"])
@login_required
def account_email() -> Response:
    """Change (or remove) the email address: a code and link go to the new one."""
    if request.method == "POST":
        return _request(Channel.EMAIL)
    return _page(Channel.EMAIL)


@bp.post("/account/email/confirm")
@login_required
def account_email_confirm() -> Response:
    """The code sent to the new email address."""
    return _confirm(Channel.EMAIL)


@bp.route("/account/email/confirm/<token>", methods=["GET", "POST"])
@login_required
def account_email_link(token: str) -> Response:
    """The emailed link: a button that confirms (mail scanners that open links spend
    nothing), or at once the dead-link page."""
    form = ButtonForm()
    try:
        if not form.validate_on_submit():  # the change it confirms; a dead link says so
            pending = services().address_changes.link_change(current_user.user.id, token)
            return show("web/account_email_link.html", {"form": form, "pending": pending},
                        form=form)
        services().address_changes.confirm(current_user.user.id, Channel.EMAIL, token=token)
    except DomainError as exc:
        return show("web/account_email_link.html", {"form": form, "failed": True},
                    form=form, error=exc)
    flash("Your new email address is saved.", "success")
    return go(url_for("web.account"))


@bp.route("/account/phone", methods=["GET", "POST"])
@login_required
def account_phone() -> Response:
    """Change, add or remove the phone number: a code goes to the new one by SMS."""
    if request.method == "POST":
        return _request(Channel.PHONE)
    return _page(Channel.PHONE)


@bp.post("/account/phone/confirm")
@login_required
def account_phone_confirm() -> Response:
    """The SMS code sent to the new phone number."""
    return _confirm(Channel.PHONE)


@bp.route("/account/undo/<token>", methods=["GET", "POST"])
def account_undo(token: str) -> Response:
    """From the previous address's notice: take the change back with a new password."""
    form = UndoForm()
    if not form.is_submitted():
        try:  # a dead link says so at once (as /reset/<token>), before passwords are typed
            services().address_changes.check_undo(token)
        except InvalidToken as exc:
            return show("web/account_undo.html", {"form": form, "dead": True}, form=form,
                        error=exc)
    if not form.validate_on_submit():
        return show("web/account_undo.html", {"form": form}, form=form)
    try:
        services().address_changes.undo(token, form.new_password.data or "",
                                  form.confirm_password.data or "")
    except DomainError as exc:
        dead = isinstance(exc, InvalidToken)
        return show("web/account_undo.html", {"form": form, "dead": dead}, form=form,
                    error=exc)
    end_session()
    flash("Your address is back and your password is changed. Every session has ended, and "
          "second factors added in the day before the change or since were removed: log "
          "in with the new password, then add yours again from your security page if they "
          "were yours.", "success")
    return go(url_for("web.login"))


@bp.route("/account/export", methods=["GET", "POST"])
@login_required
def account_export() -> Response:
    """What the file holds, and the button that downloads it (recent sign-in). Only the
    button's POST spends a download and is audited: a link followed or prefetched, or
    another site sending the browser here, costs nothing."""
    form = ButtonForm()
    try:
        if not form.validate_on_submit():
            services().account_data.require_recent(auth_time())
            return show("web/account_export.html", {"form": form}, form=form)
        data = services().account_data.export(current_user.user.id, auth_time())
    except ReauthenticationRequired:
        return reauthenticate_first(url_for("web.account_export"))
    except DomainError as exc:
        return show("web/account_export.html", {"form": form}, form=form, error=exc)
    return export_response(data)


@bp.route("/account/delete", methods=["GET", "POST"])
@login_required
def account_delete() -> Response:
    """What deleting means, and the button (recent sign-in)."""
    form = ButtonForm()
    context = {"form": form, "user": current_user.user,
               "grace_days": services().policy.account_deletion_grace.days,
               "grace": services().policy.account_deletion_grace}
    if not form.validate_on_submit():
        return show("web/account_delete.html", context, form=form)
    try:
        due = services().account_data.request_deletion(current_user.user.id, auth_time())
    except ReauthenticationRequired:
        return reauthenticate_first(url_for("web.account_delete"))
    except DomainError as exc:
        return show("web/account_delete.html", context, form=form, error=exc)
    end_session()
    flash("Your account is deleted." if due is None else
          "Your account is closed and will be erased within a minute." if not context["grace"]
          else "Your account is closed and will be erased. The email we sent has a link to "
          "keep it.", "success")
    return go(url_for("web.login"))


@bp.route("/account/delete/cancel/<token>", methods=["GET", "POST"])
def account_delete_cancel(token: str) -> Response:
    """The emailed cancel link: a button that keeps the account."""
    form = ButtonForm()
    try:
        if not form.validate_on_submit():
            services().account_data.check_cancel(token)  # a dead link says so at once
            return show("web/account_delete_cancel.html", {"form": form}, form=form)
        services().account_data.cancel_deletion(token)
    except DomainError as exc:
        return show("web/account_delete_cancel.html", {"form": form, "failed": True},
                    form=form, error=exc)
    flash("Your account is kept. Log in to use it.", "success")
    return go(url_for("web.login"))
