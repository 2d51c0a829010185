"""The staff-only blueprint at /admin/.

Every request is checked here on the server, against the database: the session's
user is loaded fresh (a deactivated or demoted account loses access on its next
request). Anonymous visitors are sent to the login page; signed-in non-staff get
403 and an ``authz_fail`` audit event.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from flask import Blueprint, Response, abort, redirect, request
from flask_login import current_user

from webapp.application.devices import device_label
from webapp.interface import services

bp = Blueprint("admin", __name__, url_prefix="/admin")


def acting_id() -> int:
    """The signed-in staff member's id (the guard below has already checked them)."""
    return int(current_user.user.id)


@bp.before_request
def _staff_only() -> Response | None:
    if not current_user.is_authenticated:
        target = request.full_path.rstrip("?") if request.method == "GET" else "/admin/"
        return redirect("/login?next=" + quote(target, safe="/"))
    if not current_user.is_staff:
        services().admin.denied(current_user.user, request.path)
        abort(403)
    return None


@bp.before_request
def _no_nul_in_query() -> None:
    """PostgreSQL text cannot hold NUL: a search or filter with one is a bad request."""
    if any("\x00" in value for _name, value in request.args.items(multi=True)):
        abort(400)


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # personal data: never in a shared cache
    return response


@bp.app_template_filter("utc")
def utc(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


@bp.app_template_filter("device")
def device(user_agent: str | None) -> str:
    """ "Firefox on Linux" for a raw user agent (the full string stays one click away)."""
    return device_label(user_agent)


from webapp.interface.admin import pages, views  # noqa: E402,F401  (registers the routes)

__all__ = ["bp"]
