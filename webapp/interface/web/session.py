"""Browser sessions with Flask-Login.

The session stores ``"<user id>:<session version>"``; the version is a digest of
the user's uniquifier, so a password change or "log out everywhere" (which
rotate it) ends every other session on its next request.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, flash, redirect, request, session, url_for
from flask_login import UserMixin, login_url, login_user, logout_user

from webapp.application.tokens import session_version
from webapp.domain.errors import AuthenticationRequired
from webapp.domain.model import User
from webapp.extensions import login_manager
from webapp.interface import services
from webapp.interface.web.outcomes import go, is_htmx


class SessionUser(UserMixin):
    """What ``flask_login.current_user`` is for a signed-in browser: wraps the domain User."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.id}:{session_version(self.user)}"

    @property
    def is_active(self) -> bool:
        return self.user.is_active

    @property
    def is_staff(self) -> bool:
        return self.user.is_staff


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


@login_manager.user_loader
def load_user(session_id: str) -> SessionUser | None:
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit():
        return None
    try:
        user = services().tokens.user_for_session(int(user_id), version)
    except AuthenticationRequired:
        return None
    return SessionUser(user)


def start_session(user: User, remember: bool = False) -> None:
    """Log in: a fresh session (no fixation: the old session's data is dropped first).
    Every sign-in proves a factor just now: the session's ``auth_time``."""
    session.clear()
    login_user(SessionUser(user), remember=remember)
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
    logout_user()
    session.clear()


# --- what the browser is in the middle of ------------------------------------------------

PENDING = "pending_identifier"
RESEND_AT = "resend_at"


def remember_pending(identifier: str | None, *, sent: bool) -> None:
    """The address being verified (to prefill the code form) and, when a message was
    just sent, when: the resend button waits out the cool-down from then."""
    if identifier:
        session[PENDING] = identifier
    if sent:
        session[RESEND_AT] = services().clock.now().timestamp()


def pending_identifier() -> str:
    return str(session.get(PENDING, ""))


def resend_wait() -> int:
    """Whole seconds until another code may be asked for (0: now)."""
    cooldown = services().policy.resend_cooldown.total_seconds()
    sent_at = session.get(RESEND_AT)
    if not cooldown or not isinstance(sent_at, int | float):
        return 0
    left = sent_at + cooldown - services().clock.now().timestamp()
    return max(0, int(left + 0.999))
