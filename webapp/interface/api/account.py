"""Changing an address, downloading one's data and deleting the account, at /api/auth/.

Endpoints marked *fresh* need a sign-in (``auth_time``) within REAUTH_MAX_AGE: else 403
``reauthentication_required`` (``POST reauthenticate/`` gives a fresh pair)."""

from __future__ import annotations

from flask import Response

from webapp.application.address_change import REQUESTED
from webapp.domain.errors import ValidationFailed
from webapp.domain.values import Channel
from webapp.interface.api.account_schemas import (
    CancelIn,
    ChangeConfirmIn,
    DeletionOut,
    NewEmailIn,
    NewPhoneIn,
    PhoneConfirmIn,
    UndoIn,
)
from webapp.interface.api.base import bearer_access, bearer_user, endpoint, reply, services
from webapp.interface.api.schemas import DetailOut, ErrorOut, UserOut
from webapp.interface.downloads import export_response

NOT_RECENT = ("Sign in again first (`reauthentication_required`): POST reauthenticate/",
              ErrorOut)
BAD = ("Invalid, same as now, or the only proven address; or a wrong, expired or spent "
       "code or token", ErrorOut)
ACCEPTED = ("The same answer whether or not the address is taken", DetailOut)
UNDONE = ("Your address is back and your password is changed. Every session has ended, and "
          "second factors added in the day before the change or since (passkeys, "
          "authenticator app, recovery codes) were removed: add yours again if they were "
          "yours.")
CANCELLED = "Your account is kept. Log in again to use it."


@endpoint("/auth/email-change/", summary="Change the email address", body=NewEmailIn,
          auth=True, tag="account", responses={202: ACCEPTED, 400: BAD, 403: NOT_RECENT})
def email_change(data: NewEmailIn) -> Response:
    """*Fresh.* The new address gets a link and a code, the current one a notice; nothing
    changes until the new one is proven. A taken address gets the same answer (its owner
    is told). A new request replaces a pending one; a change waits 24 hours. An empty
    ``new_email`` removes the email at once, while a proven phone stays."""
    access = bearer_access()
    services().address_changes.request(access.user.id or 0, Channel.EMAIL, data.new_email,
                                 access.auth_time)
    return reply(DetailOut(detail=REQUESTED if data.new_email else "Removed."), 202)


@endpoint("/auth/email-change/confirm/", summary="Confirm the new email address",
          body=ChangeConfirmIn, auth=True, tag="account",
          responses={200: ("The user, with the new email", UserOut), 400: BAD})
def email_change_confirm(data: ChangeConfirmIn) -> Response:
    """The ``token`` of the emailed link, or its ``code``. The previous address gets a
    notice with an undo link, valid 7 days."""
    if not (data.token or data.code):
        raise ValidationFailed.single("code", "Give the code, or the token from the link.")
    user = services().address_changes.confirm(bearer_user().id or 0, Channel.EMAIL,
                                        token=data.token, code=data.code)
    return reply(UserOut.of(user))


@endpoint("/auth/email-change/undo/", summary="Take an address change back", body=UndoIn,
          tag="account", responses={200: ("Undone", DetailOut), 400: BAD})
def email_change_undo(data: UndoIn) -> Response:
    """No sign-in: the link sent to the previous address (email or phone) is the proof.
    That address is back, the password is the new one, every session and token of the
    account ends, and so does every second factor added from a day before the change on
    (passkeys, authenticator app, recovery codes; older ones stay), and a deletion of
    the account its user asked for since the change was asked for (one staff asked for
    stays): how a hijacked account is taken back. Once, within 7 days."""
    services().address_changes.undo(data.token, data.new_password, data.confirm_password)
    return reply(DetailOut(detail=UNDONE))


@endpoint("/auth/phone-change/", summary="Change (add, remove) the phone number",
          body=NewPhoneIn, auth=True, tag="account",
          responses={202: ACCEPTED, 400: BAD, 403: NOT_RECENT})
def phone_change(data: NewPhoneIn) -> Response:
    """*Fresh.* As ``email-change/``, by SMS code; adds a phone to an account without one.
    An empty ``new_phone`` removes the phone at once, while a proven email stays."""
    access = bearer_access()
    services().address_changes.request(access.user.id or 0, Channel.PHONE, data.new_phone,
                                 access.auth_time)
    return reply(DetailOut(detail=REQUESTED if data.new_phone else "Removed."), 202)


@endpoint("/auth/phone-change/confirm/", summary="Confirm the new phone number",
          body=PhoneConfirmIn, auth=True, tag="account",
          responses={200: ("The user, with the new phone", UserOut), 400: BAD})
def phone_change_confirm(data: PhoneConfirmIn) -> Response:
    """The SMS ``code``. The previous number gets a notice with an undo link (7 days)."""
    user = services().address_changes.confirm(bearer_user().id or 0, Channel.PHONE, code=data.code)
    return reply(UserOut.of(user))


@endpoint("/auth/me/export/", method="GET", summary="Download everything held about you",
          auth=True, tag="account",
          responses={200: ("A JSON attachment: profile, addresses, sessions, activity, "
                           "invitations, billing, second-factor kinds", None),
                     403: NOT_RECENT, 429: ("5 an hour per account", ErrorOut)})
def account_export() -> Response:
    """*Fresh.* One JSON file; no secret (password hash, factor secrets) is in it. Audited."""
    access = bearer_access()
    data = services().account_data.export(access.user.id or 0, access.auth_time)
    return export_response(data)


@endpoint("/auth/me/", method="DELETE", summary="Delete your account", auth=True,
          tag="account", responses={202: ("Closed now; erased at ``erase_at``", DeletionOut),
                                    403: NOT_RECENT,
                                    409: ("Already waiting, or the last staff member",
                                          ErrorOut)})
def account_delete() -> Response:
    """*Fresh.* Every session and token ends now and sign-in is refused. The account, its
    personal data and its Stripe customer (subscriptions cancelled) are erased after
    ACCOUNT_DELETION_GRACE (7 days by default; 0: now); the email carries a cancel link."""
    access = bearer_access()
    due = services().account_data.request_deletion(access.user.id or 0, access.auth_time)
    detail = ("Your account is deleted." if due is None else
              "Your account is closed and will be erased within a minute."
              if not services().policy.account_deletion_grace else
              "Your account is closed and will be erased; the email has a link to cancel.")
    return reply(DeletionOut(detail=detail, erase_at=due), 202)


@endpoint("/auth/me/delete/cancel/", summary="Cancel a deletion", body=CancelIn,
          tag="account", responses={200: ("The account is back, signed out", DetailOut),
                                    400: ("Invalid, expired or used token", ErrorOut)})
def account_delete_cancel(data: CancelIn) -> Response:
    """No sign-in: the emailed link is the proof. Works until the erasure, once."""
    services().account_data.cancel_deletion(data.token)
    return reply(DetailOut(detail=CANCELLED))
