"""The front door: landing page, sign up, log in, log out."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.application.signin import Door
from webapp.domain.errors import (
    DomainError,
    RegistrationClosed,
    SecondFactorRequired,
    Unverified,
)
from webapp.interface import services
from webapp.interface.web import bp
from webapp.interface.web.forms import ButtonForm, LoginForm, SignupForm
from webapp.interface.web.outcomes import go, show
from webapp.interface.web.safety import safe_next
from webapp.interface.web.second_factor import pause_for_second_factor, trusted_browser
from webapp.interface.web.session import (
    browser_device,
    end_session,
    keep_device,
    pending_identifier,
    remember_pending,
    start_session,
)

SENT = ("If that address can be used, we have sent a message to it. "
        "Enter the code from it below, or open the link in the email.")
# A phone number alone: no email, so no link to open (the same words for every number).
SENT_SMS = ("If that number can be used, we have sent a text message to it. "
            "Enter the code from it below.")


@bp.get("/")
def landing() -> Response | str:
    """Signed in: the account page. Otherwise a welcome with the ways in."""
    if current_user.is_authenticated:
        return redirect(url_for("web.account"))
    return render_template("web/landing.html")


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Response:
    """Create an account with an email address, a phone number or both."""
    if signed_in := _already_signed_in():
        return signed_in
    form = SignupForm()
    accounts = services().accounts
    if not accounts.policy.registration_open and request.method == "GET":
        # REGISTRATION=invite: say so now, not after the form is filled in.
        return show("web/signup.html", {"form": None, "closed": RegistrationClosed().detail})
    if form.validate_on_submit():
        try:
            accounts.register(
                email=form.email.data or None, phone=form.phone.data or None,
                password=form.password.data or "", first_name=form.first_name.data,
                last_name=form.last_name.data)
        except DomainError as exc:
            return show("web/signup.html", {"form": form}, form=form,
                        partial="web/_signup_form.html", error=exc)
        # The same answer whether or not the address was taken (its owner is told instead).
        remember_pending(form.email.data or form.phone.data, sent=True,
                         phone=form.phone.data if form.email.data else None)
        flash(SENT if form.email.data else SENT_SMS, "success")
        return go(url_for("web.verify"))
    return show("web/signup.html", {"form": form}, form=form, partial="web/_signup_form.html")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    """Log in with email or phone and password; on to ``next`` when it is a path here."""
    if signed_in := _already_signed_in():
        return signed_in
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        form.identifier.data = pending_identifier()  # just verified: one field less to type
    if form.validate_on_submit():
        device = browser_device()
        try:
            signed_in = services().signin.with_password(
                **form.email_or_phone(), password=form.password.data or "", door=Door.BROWSER,
                trusted=trusted_browser(), device=device)
        except SecondFactorRequired as pending:
            return keep_device(pause_for_second_factor(pending, form.next.data or ""), device)
        except Unverified as exc:
            remember_pending(form.identifier.data, sent=False)
            return show("web/login.html", {"form": form, "unverified": True}, form=form,
                        partial="web/_login_form.html", error=exc)
        except DomainError as exc:
            return show("web/login.html", {"form": form}, form=form,
                        partial="web/_login_form.html", error=exc)
        start_session(signed_in.user)
        return keep_device(go(safe_next(form.next.data, url_for("web.account"))), device)
    return show("web/login.html", {"form": form}, form=form, partial="web/_login_form.html")


def _already_signed_in() -> Response | None:
    """Opening /login or /signup while signed in: on to ``next`` (a path here) or /account."""
    if request.method != "GET" or not current_user.is_authenticated:
        return None
    target = safe_next(request.args.get("next"), url_for("web.account"))
    if target.split("?")[0].rstrip("/") in (url_for("web.login"), url_for("web.signup")):
        target = url_for("web.account")  # never back here: that would be a loop
    return redirect(target)


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response:
    """POST ends this browser's session. GET only asks, so a link cannot log anyone out."""
    form = ButtonForm()
    if form.validate_on_submit():
        end_session()
        flash("You are logged out.", "success")
        return go(url_for("web.login"))
    return show("web/logout.html", {"form": form})
