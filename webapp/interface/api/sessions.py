"""Where the account is signed in, and its security history: /api/auth/sessions/ and
/api/auth/activity/ (the same services as /account/sessions and /account/activity)."""

from __future__ import annotations

from flask import Response, request

from webapp.domain.errors import ValidationFailed
from webapp.interface.api.auth import INVALID, UNAUTHORIZED
from webapp.interface.api.base import bearer_token, bearer_user, endpoint, reply, services
from webapp.interface.api.schemas import (
    ActivityListOut,
    ActivityOut,
    ErrorOut,
    SessionListOut,
    SessionOut,
)

NOT_FOUND = ("No such session of this account (another user's id answers the same)", ErrorOut)


@endpoint("/auth/sessions/", method="GET", summary="Where the account is signed in",
          auth=True, responses={200: ("Browser sessions and API logins, newest first",
                                      SessionListOut), 401: UNAUTHORIZED})
def sessions_list() -> Response:
    """Every browser session and API login (refresh-token family) of the account, with
    its device, IP, when it began and was last seen; ``current`` marks the caller's."""
    user = bearer_user()
    current = services().tokens.access_family(bearer_token())
    entries = services().sessions.entries(user, current)
    return reply(SessionListOut([SessionOut.of(entry) for entry in entries]))


@endpoint("/auth/sessions/<session_id>/", method="DELETE", summary="End one session",
          auth=True, responses={204: ("Ended: a browser session is signed out at its next "
                                      "request, an API login's refresh and access tokens "
                                      "fail at once", None),
                                400: INVALID, 401: UNAUTHORIZED, 404: NOT_FOUND})
def sessions_end(session_id: str) -> Response:
    """End one browser session or API login of the account (the caller's own included)."""
    services().sessions.end_one(bearer_user(), session_id)
    return reply(None, 204)


@endpoint("/auth/sessions/revoke-others/", summary="End every other session", auth=True,
          responses={204: ("Every session but the caller's has ended", None),
                     401: UNAUTHORIZED})
def sessions_revoke_others() -> Response:
    """End every browser session and API login of the account except the caller's."""
    user = bearer_user()
    services().sessions.end_others(user, services().tokens.access_family(bearer_token()))
    return reply(None, 204)


@endpoint("/auth/activity/", method="GET", summary="Your security activity", auth=True,
          responses={200: ("The account's security events, newest first, 50 a page "
                           "(`?page=2` for older ones)", ActivityListOut),
                     400: INVALID, 401: UNAUTHORIZED})
def activity() -> Response:
    """Sign-ins, failed sign-ins, password, second-factor, address and session changes,
    and staff actions on the account. A ``Link: <...>; rel="next"`` header points to
    the next page while there is one."""
    user = bearer_user()
    raw = request.args.get("page", "1")
    if not (raw.isascii() and raw.isdigit() and 0 < int(raw) <= 10_000):
        raise ValidationFailed.single("page", "A page number from 1 to 10000.")
    page = services().activity.page(user.id or 0, int(raw))
    response = reply(ActivityListOut([ActivityOut.of(item) for item in page.events]))
    if page.has_next:
        response.headers["Link"] = f'<{request.base_url}?page={page.page + 1}>; rel="next"'
    return response
