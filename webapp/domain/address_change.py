"""A change of an account's email address or phone number, from request to undo.

Nothing changes on the account until the new address is proven (``confirmed_at``).
Once it is, the previous address (if it was proven) may take the change back within
``UNDO_TTL``: that is how the owner recovers an account whose session was stolen.
A change with no new address removes the address (never the last proven one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from webapp.domain.values import Channel

CHANGE_TTL = timedelta(hours=24)  # a requested change waits this long for its proof
UNDO_TTL = timedelta(days=7)  # the previous address may take it back this long
# Second factors added from this long before a change was asked for are taken back by its
# undo: a hijacker adds theirs around the takeover (a passkey signs in on its own, an app
# locks the owner out), and each addition was announced to the owner's address then.
# Older ones stay: the previous address alone (its mailbox may be why the owner moved)
# must not get past the owner's own factors.
UNDO_FACTOR_WINDOW = timedelta(days=1)


@dataclass(eq=False)
class AddressChange:
    user_id: int
    channel: Channel
    old_value: str | None  # None: an address added where there was none
    new_value: str | None  # None: the address is removed
    created_at: datetime
    expires_at: datetime
    confirmed_at: datetime | None = None
    undo_until: datetime | None = None  # None: nothing to take back (no proven old address)
    undone_at: datetime | None = None
    cancelled_at: datetime | None = None  # a newer request replaced it, or an undo
    id: int | None = None

    @classmethod
    def requested(cls, user_id: int, channel: Channel, old: str | None, new: str,
                  now: datetime) -> AddressChange:
        return cls(user_id=user_id, channel=channel, old_value=old, new_value=new,
                   created_at=now, expires_at=now + CHANGE_TTL)

    def is_pending(self, now: datetime) -> bool:
        """Waiting for the new address to be proven: one at a time per channel."""
        return (self.confirmed_at is None and self.cancelled_at is None
                and now < self.expires_at)

    def confirm(self, now: datetime, old_was_proven: bool) -> None:
        self.confirmed_at = now
        if self.old_value and old_was_proven:
            self.undo_until = now + UNDO_TTL

    def factors_since(self) -> datetime:
        """Second factors added since then go with the undo (``UNDO_FACTOR_WINDOW``)."""
        return self.created_at - UNDO_FACTOR_WINDOW

    def can_undo(self, now: datetime) -> bool:
        return (self.confirmed_at is not None and self.undone_at is None
                and self.undo_until is not None and now < self.undo_until)

    def added_lately(self, now: datetime) -> bool:
        """An address added (none there before) and proven within ``UNDO_TTL``: taking
        the account back removes it, for it may be a hijacker's, kept to reset the
        password (an addition has no undo link of its own)."""
        return (self.old_value is None and self.new_value is not None
                and self.confirmed_at is not None and self.undone_at is None
                and now - self.confirmed_at < UNDO_TTL)

    def stop_undo_after(self, undone: AddressChange, now: datetime) -> bool:
        """``undone``, an earlier change, was taken back: this later one came from an
        address the owner may not hold (a hijacker's), so its undo link must not take the
        account again. True when this change's undo window was ended here."""
        if (self.id or 0) <= (undone.id or 0) or not self.can_undo(now):
            return False
        self.undo_until = now
        return True


def removable(channels_proven: dict[Channel, bool], channel: Channel) -> bool:
    """An address may go only while another proven address stays on the account."""
    return any(proven for other, proven in channels_proven.items() if other is not channel)
