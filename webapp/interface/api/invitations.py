"""Invitation endpoints: invite (staff Bearer token) and accept (creates a verified account)."""

from __future__ import annotations

from datetime import datetime

from flask import Response

from webapp.application.signin import Door
from webapp.domain.invitations import Invitation, InvitationState
from webapp.interface.api.base import bearer_user, endpoint, reply, services
from webapp.interface.api.model import Field
from webapp.interface.api.schemas import (
    ErrorOut,
    In,
    LoginOut,
    Out,
)


class InviteIn(In):
    email: str = Field(examples=["new.colleague@example.com"])
    staff: bool = Field(False, description="The account is created as a staff member.")


class AcceptIn(In):
    token: str = Field(description="The token from the emailed /invite/<token> link.")
    password: str = Field(description="8 to 128 characters, not a common password.")
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = Field(None, description="Optional; must be the invited address.")


class InvitationOut(Out):
    id: int
    email: str
    staff: bool
    state: str = Field(description="pending, accepted, revoked, expired, or void (its "
                                   "inviter's account is deactivated, waiting for deletion "
                                   "or erased; or, for a staff invitation, no longer staff)")
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, invitation: Invitation, state: InvitationState) -> InvitationOut:
        return cls(id=invitation.id or 0, email=invitation.email, staff=invitation.as_staff,
                   state=str(state), created_at=invitation.created_at,
                   expires_at=invitation.expires_at)


@endpoint("/auth/invitations/", summary="Invite someone by email", body=InviteIn, auth=True,
          tag="invitations",
          responses={201: ("The invitation; its link is on its way by email (for an "
                           "inviter who is not staff, also when the address already has "
                           "an account: then no link is sent)", InvitationOut),
                     400: ("Invalid address, or (staff only) it already has an account",
                           ErrorOut),
                     401: ("Not authenticated", ErrorOut),
                     403: ("Not staff (or users may not invite)", ErrorOut),
                     429: ("Too many invitations from this client address, or (users "
                           "who are not staff) to this address", ErrorOut)})
def invitation_create(data: InviteIn) -> Response:
    """Staff invite any address, optionally as staff. Verified users may invite (not as
    staff) when the server runs with ``INVITATIONS_BY_USERS=true``; they get the same
    answer whether or not the address has an account, so it tells them nothing."""
    inviter = bearer_user()
    invitation = services().invitations.invite(inviter.id, data.email, as_staff=data.staff)
    # Just made by this inviter, who may: pending, by the rule every state goes by.
    state = invitation.state(services().clock.now(), inviter)
    return reply(InvitationOut.of(invitation, state), 201)


@endpoint("/auth/invitations/accept/", summary="Accept an invitation", body=AcceptIn,
          tag="invitations",
          responses={200: ("The account exists, verified; tokens as from login", LoginOut),
                     400: ("Invalid, expired, revoked or spent invitation; weak password; "
                           "another address", ErrorOut)})
def invitation_accept(data: AcceptIn) -> Response:
    """Creates the account for the invited address, already verified (so its Stripe
    customer is queued), and logs it in."""
    signed_in = services().invitations.accept_and_sign_in(
        data.token, data.password, Door.API, first_name=data.first_name,
        last_name=data.last_name, email=data.email)
    return reply(LoginOut.of(signed_in))
