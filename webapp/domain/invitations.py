"""Invitations: by a staff member (or a user) for one address, optionally as staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class InvitationState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"


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

    def state(self, now: datetime) -> InvitationState:
        if self.accepted_at is not None:
            return InvitationState.ACCEPTED
        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if now >= self.expires_at:
            return InvitationState.EXPIRED
        return InvitationState.PENDING
