"""Browser sessions with Flask-Login, kept on the server.

Flask-Login's id in the (signed) session cookie is ``"<user id>:<session version>:<secret>"``.
The secret names the session's record on the server (SessionService): logging out, or
ending the session from another device or by staff, deletes the record, and a cookie
pointing to no record is signed out, copies included. The version is a digest of the
user's uniquifier, so a password change or "log out everywhere" (which rotate it) ends
every other session on its next request too.

The browser also keeps a long-lived device cookie (a random id, signed, HttpOnly): it is
how the new-device notices recognise a browser that signed in before.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from flask import Flask, Response, current_app, flash, redirect, request, session, url_for
from flask_login import UserMixin, current_user, login_url, login_user, logout_user
from flask_login.signals import session_protected
from itsdangerous import BadSignature, URLSafeSerializer

from webapp.application.tokens import session_version
from webapp.domain.errors import AuthenticationRequired
from webapp.domain.model import User
from webapp.domain.sessions import session_id_of
from webapp.extensions import login_manager
from webapp.interface import services
from webapp.interface.web.outcomes import go, is_htmx


class SessionUser(UserMixin):
    """What ``flask_login.current_user`` is for a signed-in browser: wraps the domain User
    and the secret of its session record."""

    def __init__(self, user: User, secret: str) -> None:
        self.user = user
        self.secret = secret
        self.session_id = session_id_of(secret)

    def get_id(self) -> str:
        return f"{self.user.id}:{session_version(self.user)}:{self.secret}"

    @property
    def is_active(self) -> bool:
        return self.user.is_active

    @property
    def is_staff(self) -> bool:
        return self.user.is_staff


DEVICE_ID = re.compile(r"^[0-9a-f]{32}$")

login_manager.login_message = "Log in to see that page."
login_manager.login_message_category = "info"


@login_manager.unauthorized_handler
def to_login() -> Response:
    """No session (never, or ended elsewhere): to the login page, and back after it.

    Only a page (GET) is come back to: a form sent without a session comes back to the
    account page, where the forms are (as the admin pages do), not to a POST-only
    address that would answer 405. An htmx form sends the whole window to the login
    page instead of swapping that page into itself.
    """
    if login_manager.login_message:
        flash(login_manager.login_message, login_manager.login_message_category)
    target = request.full_path.rstrip("?") if request.method == "GET" else url_for("web.account")
    location = login_url(login_manager.login_view, next_url=target)
    return go(location) if is_htmx() else redirect(location)


def _sign_in_of(session_id: str) -> tuple[int, str, str] | None:
    """The user id, session version and secret that Flask-Login's id carries."""
    user_id, version, secret = (session_id.split(":") + ["", ""])[:3]
    if not (user_id.isascii() and user_id.isdigit() and len(user_id) < 19 and secret):
        return None
    return int(user_id), version, secret


@login_manager.user_loader
def load_user(session_id: str) -> SessionUser | None:
    sign_in = _sign_in_of(session_id)
    if sign_in is None:
        return None
    try:
        user, _record = services().sessions.user_for_session(*sign_in)
    except AuthenticationRequired:
        return None
    return SessionUser(user, sign_in[2])


@session_protected.connect
def end_refused_session(app: Flask) -> None:
    """Flask-Login's "strong" protection refused the cookie (another address or browser
    than the session's): it clears only this request's copy; the record it names ends
    too, or a copy taken where the session began would live on for its 30 idle days."""
    if "_user_id" in session:  # kept ("basic" protection): only marked not fresh
        return
    carried = app.session_interface.open_session(app, request)
    sign_in = _sign_in_of(str(carried.get("_user_id") or "")) if carried else None
    if sign_in is not None:
        services().sessions.end_refused(sign_in[0], sign_in[2])


def start_session(user: User, remember: bool = False) -> None:
    """Log in: a fresh session record and cookie (no fixation: the old session's data
    is dropped first; a session it replaces, after a password change, ends). Every
    sign-in proves a factor just now: the session's ``auth_time``."""
    replacing = current_user.secret if current_user.is_authenticated else None
    secret = services().sessions.start(user, replacing=replacing)
    session.clear()
    login_user(SessionUser(user, secret), remember=remember)
    session.permanent = remember
    mark_recent()


# --- recent sign-in ("sudo") ---------------------------------------------------------------

AUTH_TIME = "auth_time"


def mark_recent() -> None:
    """A factor was proven just now (a sign-in, or /reauthenticate)."""
    session[AUTH_TIME] = services().clock.now().timestamp()


def auth_time() -> datetime | None:
    """When this browser last proved a factor (None: never, as far as it knows)."""
    value = session.get(AUTH_TIME)
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None


def reauthenticate_first(next_path: str) -> Response:
    """A sensitive change needs a recent sign-in: to /reauthenticate, and back."""
    flash("Confirm it is you to make this change.", "info")
    return go(url_for("web.reauthenticate", next=next_path))


def end_session() -> None:
    """Log out this browser: its record ends, so a copy of the cookie is signed out too."""
    if current_user.is_authenticated:
        services().sessions.end(current_user.user, current_user.secret)
    logout_user()
    session.clear()


# --- the device cookie -------------------------------------------------------------------

DEVICE_COOKIE = "device"
DEVICE_MAX_AGE = 400 * 24 * 3600  # the longest a browser keeps a cookie (Chrome's cap)


def _device_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt="device-cookie")


def browser_device() -> str:
    """This browser's device id from its signed cookie; a new one when it has none or a
    tampered one (then it is simply a device not seen before)."""
    raw = request.cookies.get(DEVICE_COOKIE, "")
    try:
        value = _device_signer().loads(raw) if raw else None
    except BadSignature:
        value = None
    if isinstance(value, str) and DEVICE_ID.match(value):
        return value
    return secrets.token_hex(16)


def keep_device(response: Response, device: str) -> Response:
    """(Re)set the device cookie: signed, HttpOnly, for as long as browsers allow."""
    response.set_cookie(
        DEVICE_COOKIE, _device_signer().dumps(device), max_age=DEVICE_MAX_AGE, httponly=True,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")), samesite="Lax")
    return response


# --- what the browser is in the middle of ------------------------------------------------

PENDING = "pending_identifier"
PENDING_PHONE = "pending_phone"
RESEND_AT = "resend_at"


def remember_pending(identifier: str | None, *, sent: bool, phone: str | None = None) -> None:
    """The address being verified (to prefill the code form) and, when a message was
    just sent, when: the resend button waits out the cool-down from then. ``phone``: the
    number signed up with beside that email address (it got its own code by SMS)."""
    if identifier:
        session[PENDING] = identifier
        if phone:
            session[PENDING_PHONE] = phone
        else:
            session.pop(PENDING_PHONE, None)
    if sent:
        session[RESEND_AT] = services().clock.now().timestamp()


def pending_identifier() -> str:
    return str(session.get(PENDING, ""))


def pending_phone(email: str) -> str | None:
    """The number signed up with in this browser beside ``email``, if that is the email."""
    same = pending_identifier().strip().casefold() == email.strip().casefold()
    return str(session[PENDING_PHONE]) if same and session.get(PENDING_PHONE) else None


def resend_wait() -> int:
    """Whole seconds until another code may be asked for (0: now)."""
    cooldown = services().policy.resend_cooldown.total_seconds()
    sent_at = session.get(RESEND_AT)
    if not cooldown or not isinstance(sent_at, int | float):
        return 0
    left = sent_at + cooldown - services().clock.now().timestamp()
    return max(0, int(left + 0.999))
