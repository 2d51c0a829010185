"""What the address-change, export and deletion flows store and read."""

from __future__ import annotations

from typing import Protocol

from webapp.domain.address_change import AddressChange
from webapp.domain.invitations import Invitation
from webapp.domain.model import AuditEvent, RefreshFamily
from webapp.domain.values import Channel


class AddressChangeRepository(Protocol):
    def add(self, change: AddressChange) -> None: ...

    def get(self, change_id: int) -> AddressChange | None: ...

    def save(self, change: AddressChange) -> None: ...

    def for_user(self, user_id: int, channel: Channel | None = None) -> list[AddressChange]:
        """The user's changes (of one channel), newest first."""
        ...


class PersonalDataRepository(Protocol):
    """Everything held about one person: read whole for an export, erased whole."""

    def families(self, user_id: int) -> list[RefreshFamily]:
        """Every refresh family (login) of the user, ended ones too, newest first."""
        ...

    def activity(self, user_id: int) -> list[AuditEvent]:
        """Every audit event about the user, newest first."""
        ...

    def invitations(self, user_id: int, email: str | None) -> list[Invitation]:
        """Invitations the user sent, and those addressed to them (by email or accepted)."""
        ...

    def active_staff(self) -> int:
        """How many active staff accounts there are (none waiting for deletion), counted
        after any other transaction that counted them has ended: one that removes a staff
        member after counting cannot race another's count."""
        ...

    def erase(self, user_id: int, addresses: list[str], pseudonym: str,
              keep_message: int | None, customer_id: str | None = None) -> None:
        """Erase the person: the user row and what hangs on it, invitations to
        ``addresses``, the bodies of their outbox messages (but ``keep_message``, the
        running job) and of the Stripe events about ``customer_id`` (their ids stay, so a
        repeat is still known); audit events stay under ``pseudonym``, with no address,
        IP or browser left in them."""
        ...
