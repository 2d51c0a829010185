"""Proving an address: the code form, resending it, and the emailed link."""

from __future__ import annotations

from flask import Response, flash, redirect, url_for

from webapp.domain.errors import DomainError
from webapp.interface import services
from webapp.interface.web import bp
from webapp.interface.web.forms import ButtonForm, CodeForm, ResendForm, split_identifier
from webapp.interface.web.outcomes import go, is_htmx, show
from webapp.interface.web.safety import secret_page
from webapp.interface.web.session import pending_identifier, remember_pending, resend_wait

VERIFIED = "Your account is verified. Log in to continue."
RESENT = "If that address is waiting for verification, a new code is on its way."


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
        email, phone = split_identifier(form.identifier.data)
        verification = services().verification
        try:
            if phone:
                verification.verify_phone_code(phone, form.code.data or "")
            else:
                verification.verify_email_code(email or "", form.code.data or "")
        except DomainError as exc:
            return show("web/verify.html", _page(code_form=form), form=form,
                        partial="web/_verify_form.html", error=exc)
        flash(VERIFIED, "success")
        return go(url_for("web.login"))
    return show("web/verify.html", _page(code_form=form if form.errors else None), form=form,
                partial="web/_verify_form.html")


@bp.route("/verify/resend", methods=["GET", "POST"])
def verify_resend() -> Response:
    """Send a new code (and link). The same answer for every address."""
    form = ResendForm()
    if not form.validate_on_submit():
        if form.errors:
            return show("web/verify.html", _page(resend_form=form), form=form,
                        partial="web/_resend_form.html")
        return redirect(url_for("web.verify"))
    email, phone = split_identifier(form.identifier.data)
    verification = services().verification
    try:
        if phone:
            verification.resend_phone(phone)
        else:
            verification.resend_email(email or "")
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
            services().verification.verify_email_token(token)
        except DomainError as exc:
            return show("web/verify_link.html", {"form": form, "failed": True}, form=form,
                        error=exc)
        flash(VERIFIED, "success")
        return go(url_for("web.login"))
    return show("web/verify_link.html", {"form": form})
