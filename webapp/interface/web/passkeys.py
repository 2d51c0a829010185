"""The browser's side of passkeys: sign in with one on /login, use one as the second
step on /login/mfa and to confirm it is you on /reauthenticate, and the list with "Add a
passkey" (``templates/web/_passkeys.html``, on /account/passkeys and on the account's
security page, which calls ``passkeys_context``).

Each ceremony is two requests, as in the API and calling the same services: the page's
script (static/js/passkeys.js) fetches the options as JSON (POST .../options, CSRF token
in a header), hands them to the browser's prompt, then submits the page's ordinary form
with the answer in its hidden ``credential`` field: the answer is a normal page
(redirect or error), so this works the same on htmx pages and without htmx.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, flash, jsonify, request, session, url_for
from flask_login import current_user, login_required
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import Length

from webapp.application.signin import Door
from webapp.domain.errors import DomainError, ReauthenticationRequired, ValidationFailed
from webapp.domain.mfa import TRUSTED_BROWSER_TTL
from webapp.domain.passkeys import MAX_PASSKEYS, NAME_MAX_LENGTH
from webapp.interface import services
from webapp.interface.web import bp
from webapp.interface.web.forms import LoginForm, ReauthenticateForm, SecondFactorForm, WebForm
from webapp.interface.web.outcomes import go, show
from webapp.interface.web.safety import safe_next
from webapp.interface.web.second_factor import (
    PENDING,
    PENDING_METHODS,
    PENDING_NEXT,
    TRUSTED_COOKIE,
)
from webapp.interface.web.session import (
    auth_time,
    browser_device,
    keep_device,
    mark_recent,
    reauthenticate_first,
    start_session,
)

MAX_CREDENTIAL = 16_000  # a browser's credential JSON is a few kilobytes at most


class PasskeyForm(WebForm):
    """The answer of the browser's passkey prompt, and what comes with it."""

    credential = HiddenField(validators=[Length(max=MAX_CREDENTIAL)])
    name = StringField("Name", validators=[Length(max=200)],
                       description="So you can tell your passkeys apart, e.g. "
                                   "“Laptop” or “Phone”.")
    remember = BooleanField("Don't ask again on this browser for 30 days")
    next = HiddenField(filters=[lambda value: safe_next(value, "")])


def credential_of(form: PasskeyForm) -> Any:
    """The hidden field's JSON; a page without the script sends nothing (a clear error)."""
    try:
        return json.loads(form.credential.data or "")
    except ValueError as exc:
        raise ValidationFailed.single(
            "credential", "Your browser sent no passkey. Try again, or use another way.") from exc


def options_answer(make: Any) -> Response:
    """The JSON options of a ceremony, or its refusal as JSON (the script shows it)."""
    try:
        return jsonify(make())
    except ReauthenticationRequired:
        back = safe_next(request.headers.get("X-Back", ""), url_for("web.account_passkeys"))
        return _json_error("Confirm it is you first.", 403,
                           location=url_for("web.reauthenticate", next=back))
    except DomainError as exc:
        return _json_error(exc.detail, 409 if exc.code == "conflict" else 400)


def _json_error(detail: str, status: int, **extra: str) -> Response:
    response = jsonify({"detail": detail, **extra})
    response.status_code = status
    return response


# --- signing in ---------------------------------------------------------------------------


@bp.post("/login/passkey/options")
def login_passkey_options() -> Response:
    """Options for any passkey of this site (the "Sign in with a passkey" button, and the
    browser's autofill of passkeys in the identifier box)."""
    return options_answer(services().passkeys.login_options)


@bp.post("/login/passkey")
def login_passkey() -> Response:
    """Sign in with a passkey alone (it verified its user: both factors)."""
    form = PasskeyForm()
    device = browser_device()  # a sign-in like any other: new devices are announced
    try:
        if not form.validate_on_submit():
            raise ValidationFailed.single("credential", "The form expired. Try again.")
        signed_in = services().passkeys.sign_in(credential_of(form), Door.BROWSER,
                                                device=device)
    except DomainError as exc:
        login_form = LoginForm(formdata=None, next=form.next.data)
        return show("web/login.html", {"form": login_form, "passkey_form": form}, form=form,
                    error=exc)
    start_session(signed_in.user)
    return keep_device(go(safe_next(form.next.data, url_for("web.account"))), device)


@bp.post("/login/mfa/passkey/options")
def login_mfa_passkey_options() -> Response:
    """Options for the passkeys of the account whose password was just right."""
    token = session.get(PENDING)
    return options_answer(lambda: services().second_factor.passkey_options(
        token if isinstance(token, str) else "", Door.BROWSER))


@bp.post("/login/mfa/passkey")
def login_mfa_passkey() -> Response:
    """The second step of a sign-in, with a passkey."""
    token = session.get(PENDING)
    form = PasskeyForm()
    device = browser_device()
    try:
        if not form.validate_on_submit() or not isinstance(token, str):
            raise ValidationFailed.single("credential", "The form expired. Start again.")
        signed_in = services().second_factor.complete(token, credential=credential_of(form),
                                                      door=Door.BROWSER, device=device)
    except DomainError as exc:
        context = {"form": SecondFactorForm(formdata=None), "recovery": False,
                   "passkey_form": form, "methods": session.get(PENDING_METHODS) or []}
        return show("web/login_mfa.html", context, form=form, error=exc)
    next_path = safe_next(str(session.get(PENDING_NEXT, "")), url_for("web.account"))
    start_session(signed_in.user)
    response = keep_device(go(next_path), device)
    if form.remember.data:
        response.set_cookie(TRUSTED_COOKIE, services().second_factor.trust(signed_in.user),
                            max_age=int(TRUSTED_BROWSER_TTL.total_seconds()), httponly=True,
                            secure=request.is_secure, samesite="Lax")
    return response


@bp.post("/reauthenticate/passkey/options")
@login_required
def reauthenticate_passkey_options() -> Response:
    """Options for the signed-in user's passkeys."""
    return options_answer(lambda: services().second_factor.reauthentication_options(
        current_user.user.id))


@bp.post("/reauthenticate/passkey")
@login_required
def reauthenticate_passkey() -> Response:
    """Confirm it is you with a passkey."""
    form = PasskeyForm()
    try:
        if not form.validate_on_submit():
            raise ValidationFailed.single("credential", "The form expired. Try again.")
        services().second_factor.reauthenticate(current_user.user.id,
                                                credential=credential_of(form))
    except DomainError as exc:
        context = {"form": ReauthenticateForm(formdata=None, next=form.next.data),
                   "user": current_user.user, "passkey_form": form, "passkeys": 1,
                   "totp": services().mfa.status(current_user.user.id).totp}
        return show("web/reauthenticate.html", context, form=form, error=exc)
    mark_recent()
    flash("Thank you. You can make the change now.", "success")
    return go(safe_next(form.next.data, url_for("web.account")))


# --- the list, adding and removing ---------------------------------------------------------


def passkeys_context(user_id: int, form: PasskeyForm | None = None) -> dict[str, Any]:
    """What templates/web/_passkeys.html needs: for any page that includes it."""
    return {"passkeys": services().passkeys.passkeys(user_id),
            "passkey_form": form or PasskeyForm(formdata=None),
            "passkeys_max": MAX_PASSKEYS, "passkey_name_max": NAME_MAX_LENGTH}


@bp.get("/account/passkeys")
@login_required
def account_passkeys() -> Response:
    """The passkeys of the account: name, added, last used; add one, remove one."""
    return show("web/passkeys.html", passkeys_context(current_user.user.id))


@bp.post("/account/passkeys/options")
@login_required
def account_passkey_options() -> Response:
    """Creation options for the browser's prompt (a recent sign-in is needed: else the
    answer says where to confirm it is you)."""
    return options_answer(lambda: services().passkeys.registration_options(
        current_user.user.id, auth_time()))


@bp.post("/account/passkeys")
@login_required
def account_passkey_add() -> Response:
    """Store the passkey the browser just made."""
    form = PasskeyForm()
    back = safe_next(form.next.data or "", url_for("web.account_passkeys"))
    try:
        if not form.validate_on_submit():
            raise ValidationFailed.single("credential", "The form expired. Try again.")
        passkey = services().passkeys.register(current_user.user.id, credential_of(form),
                                               form.name.data)
    except DomainError as exc:
        return show("web/passkeys.html", passkeys_context(current_user.user.id, form),
                    form=form, error=exc)
    codes = services().mfa.status(current_user.user.id).recovery_codes_left
    flash(f"Passkey \u201c{passkey.name}\u201d added. You can sign in with it now."
          + ("" if codes else " Make recovery codes on your security page too: they sign you "
                              "in if you lose it."), "success")
    return go(back)


@bp.post("/account/passkeys/<int:passkey_id>/remove")
@login_required
def account_passkey_remove(passkey_id: int) -> Response:
    """Remove a passkey (a recent sign-in is needed)."""
    form = PasskeyForm()
    back = safe_next(form.next.data or "", url_for("web.account_passkeys"))
    if not form.validate_on_submit():
        flash("The form expired. Try again.", "error")
        return go(back)
    try:
        services().passkeys.remove(current_user.user.id, passkey_id, auth_time())
    except ReauthenticationRequired:
        return reauthenticate_first(back)
    except DomainError as exc:
        flash(exc.detail, "error")
        return go(back)
    flash("The passkey is removed.", "success")
    return go(back)
