"""Invitations: by a staff member (or a user) for one address, optionally as staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from webapp.domain.model import User


class InvitationState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"
    VOID = "void"  # its inviter's account is closed (or, for a staff one, no longer staff)


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
        such account any more). An invitation stands only while its inviter's account is
        active, not waiting for deletion, and for a staff invitation still staff (no
        inviter at all is the operator's command line): a deactivated or leaving inviter,
        or staff who are removed, keep no way in for anyone through it. (Erasure withdraws
        the erased inviter's open invitations first: their inviter becomes no one.)
        """
        if self.accepted_at is not None:
            return InvitationState.ACCEPTED
        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if now >= self.expires_at:
            return InvitationState.EXPIRED
        if self.inviter_id is not None and not _vouches(self, inviter):
            return InvitationState.VOID
        return InvitationState.PENDING

    def stamp(self) -> int:
        """When it was made, in microseconds since 1970: with its id, what its links name.
        The id alone is not enough: on SQLite an erased newest invitation's id goes to the
        next one (erasure deletes the invitations to the erased addresses), and an old
        link must not open a newer invitation, maybe another inviter's, maybe as staff."""
        return (self.created_at - EPOCH) // timedelta(microseconds=1)

    def sent(self, stamp: object, signed: datetime) -> bool:
        """Whether a link naming this invitation's id, with ``stamp`` and signed at
        ``signed``, was sent for it, not for an earlier one that had its id. A link from
        before links carried the stamp (None) was signed no earlier than its invitation
        was made (whole seconds): an invitation made after the link is another one."""
        if stamp is not None:
            return stamp == self.stamp()
        return self.created_at.replace(microsecond=0) <= signed


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _vouches(invitation: Invitation, inviter: User | None) -> bool:
    return inviter is not None and inviter.id == invitation.inviter_id and \
        inviter.is_active and inviter.deletion_due_at is None and \
        (inviter.is_staff or not invitation.as_staff)
