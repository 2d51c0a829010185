"""Proving an address: the code form, resending it, and the emailed link."""

from __future__ import annotations

from flask import Response, flash, redirect, url_for
from flask_login import current_user

from webapp.domain.errors import DomainError, InvalidToken, OwnerSignInRequired
from webapp.domain.model import User
from webapp.interface import services
from webapp.interface.web import bp
from webapp.interface.web.forms import ButtonForm, CodeForm, ResendForm, split_identifier
from webapp.interface.web.outcomes import go, is_htmx, show
from webapp.interface.web.safety import secret_page
from webapp.interface.web.session import (
    pending_identifier,
    pending_phone,
    remember_pending,
    resend_wait,
)

VERIFIED = "Your account is verified. Log in to continue."
ADDED_VERIFIED = "The address is verified."
OTHER_VERIFIED = ("That account is verified. You are signed in to another one here: log out, "
                  "then log in to the account you verified.")
RESENT = "If that address is waiting for verification, a new code is on its way."


def _actor_id() -> int | None:
    """The signed-in user: an address added beside a proven one needs the account's owner."""
    return current_user.user.id if current_user.is_authenticated else None


def _sign_in_first(exc: DomainError, back: str) -> Response | None:
    """Refused for want of a session: to the login page, and back here after it (the same
    code or link still works). Signed in as another account: None, the form shows it."""
    if not isinstance(exc, OwnerSignInRequired) or current_user.is_authenticated:
        return None
    flash(exc.detail, "error")
    return go(url_for("web.login", next=back))


def _done(user: User | None) -> Response:
    """The owner, signed in, is back on the account page; anyone else goes on to log in.
    Signed in to another account, the login page would send on to that account's page:
    said so there, rather than "Your account is verified" on an account that was not."""
    actor_id = _actor_id()
    if actor_id is not None:  # None: the same right code again (a double submit), whoever's
        own = user is None or actor_id == user.id
        flash(ADDED_VERIFIED if own else OTHER_VERIFIED, "success")
        return go(url_for("web.account"))
    flash(VERIFIED, "success")
    return go(url_for("web.login"))


def _page(code_form: CodeForm | None = None, resend_form: ResendForm | None = None) -> dict:
    pending = pending_identifier()
    code_form = code_form or CodeForm(identifier=pending)
    resend_form = resend_form or ResendForm(identifier=pending)
    return {"code_form": code_form, "resend_form": resend_form, "wait": resend_wait()}


@bp.route("/verify", methods=["GET", "POST"])
def verify() -> Response:
    """Enter the 6-digit code from the email or the SMS."""
    form = CodeForm()
    if form.validate_on_submit():
        try:
            user, proven = _verify_code(form.identifier.data, form.code.data or "")
        except DomainError as exc:
            return _sign_in_first(exc, url_for("web.verify")) or show(
                "web/verify.html", _page(code_form=form), form=form,
                partial="web/_verify_form.html", error=exc)
        # The login form is filled in with the address just proven (the one signed up
        # with first may still be unproven, and would be refused).
        remember_pending(proven, sent=False)
        return _done(user)
    return show("web/verify.html", _page(code_form=form if form.errors else None), form=form,
                partial="web/_verify_form.html")


def _verify_code(identifier: str | None, code: str) -> tuple[User | None, str | None]:
    """The code for the address typed; the user and the address it proved. Signed up here
    with an email address and a phone number, the form holds the email address; the code
    from the text message, typed under it, is the phone's: tried for it before the email's
    refusal is shown (a wrong code then counts a wrong try on both, as typing it under each
    would)."""
    email, phone = split_identifier(identifier)
    verification, actor_id = services().verification, _actor_id()
    try:
        return verification.verify_code(email, phone, code, actor_id=actor_id), identifier
    except InvalidToken as refused:
        beside = pending_phone(email) if email else None
        if beside is None:
            raise
        try:
            return verification.verify_phone_code(beside, code, actor_id=actor_id), beside
        except OwnerSignInRequired:
            raise  # the phone's code, right, for an account that proved its email meanwhile
        except DomainError:
            raise refused from None


@bp.route("/verify/resend", methods=["GET", "POST"])
def verify_resend() -> Response:
    """Send a new code (and link). The same answer for every address."""
    form = ResendForm()
    if not form.validate_on_submit():
        if form.errors:
            return show("web/verify.html", _page(resend_form=form), form=form,
                        partial="web/_resend_form.html")
        return redirect(url_for("web.verify"))
    try:
        services().verification.resend(**form.email_or_phone())
    except DomainError as exc:
        return show("web/verify.html", _page(resend_form=form), form=form,
                    partial="web/_resend_form.html", error=exc)
    remember_pending(form.identifier.data, sent=True)
    if is_htmx():
        return show("web/verify.html", {**_page(resend_form=form), "notice": RESENT}, form=form,
                    partial="web/_resend_form.html")
    flash(RESENT, "success")
    return redirect(url_for("web.verify"), code=303)


@bp.route("/verify/<token>", methods=["GET", "POST"])
@secret_page
def verify_link(token: str) -> Response:
    """The emailed link. GET only shows a button: mail scanners that follow links spend nothing."""
    form = ButtonForm()
    if form.validate_on_submit():
        try:
            user = services().verification.verify_email_token(token, actor_id=_actor_id())
        except DomainError as exc:
            return _sign_in_first(exc, url_for("web.verify_link", token=token)) or show(
                "web/verify_link.html", {"form": form, "failed": True, "other_account":
                                         isinstance(exc, OwnerSignInRequired)},
                form=form, error=exc)
        return _done(user)
    try:  # a dead link says so at once (as /reset/<token>); nothing is spent
        services().verification.check_email_token(token)
    except DomainError as exc:
        return show("web/verify_link.html", {"form": form, "failed": True}, form=form,
                    error=exc)
    return show("web/verify_link.html", {"form": form})
