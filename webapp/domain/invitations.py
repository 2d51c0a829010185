"""Invitations: by a staff member (or a user) for one address, optionally as staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from webapp.domain.model import User


class InvitationState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"
    VOID = "void"  # a staff invitation whose inviter is no longer staff


@dataclass(eq=False)
class Invitation:
    """An invitation by a staff member (or user) for one address, optionally as staff."""

    email: str
    inviter_id: int | None
    expires_at: datetime
    created_at: datetime
    as_staff: bool = False
    accepted_at: datetime | None = None
    revoked_at: datetime | None = None
    accepted_user_id: int | None = None
    id: int | None = None

    def state(self, now: datetime, inviter: User | None) -> InvitationState:
        """Where the invitation stands; only a pending one can be accepted.

        ``inviter`` is the account ``inviter_id`` names, as it is now (None: there is no
        such account any more). A staff invitation stands only while its inviter is
        active staff, not waiting for deletion (no inviter at all is the operator's
        command line): staff who are removed keep no way back in through it.
        """
        if self.accepted_at is not None:
            return InvitationState.ACCEPTED
        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if now >= self.expires_at:
            return InvitationState.EXPIRED
        if self.as_staff and self.inviter_id is not None and not _vouches(self, inviter):
            return InvitationState.VOID
        return InvitationState.PENDING


def _vouches(invitation: Invitation, inviter: User | None) -> bool:
    return inviter is not None and inviter.id == invitation.inviter_id and \
        inviter.is_staff and inviter.is_active and inviter.deletion_due_at is None
