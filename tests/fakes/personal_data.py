"""Fakes of the address-change, export and deletion ports, over the in-memory Store."""

from __future__ import annotations

import copy
import json

from tests.fakes.storage import _Repo
from webapp.domain.address_change import AddressChange
from webapp.domain.invitations import Invitation
from webapp.domain.model import AuditEvent, MessageStatus, RefreshFamily
from webapp.domain.values import Channel


class FakeAddressChangeRepository(_Repo):
    def add(self, change: AddressChange) -> None:
        change.id = self._next_id()
        self.state.address_changes[change.id] = copy.deepcopy(change)

    def get(self, change_id: int) -> AddressChange | None:
        return copy.deepcopy(self.state.address_changes.get(change_id))

    def save(self, change: AddressChange) -> None:
        self.state.address_changes[change.id or 0] = copy.deepcopy(change)

    def for_user(self, user_id: int, channel: Channel | None = None) -> list[AddressChange]:
        mine = [c for c in self.state.address_changes.values()
                if c.user_id == user_id and (channel is None or c.channel is channel)]
        return copy.deepcopy(sorted(mine, key=lambda c: c.id or 0, reverse=True))


class FakePersonalDataRepository(_Repo):
    def families(self, user_id: int) -> list[RefreshFamily]:
        return copy.deepcopy([f for f in self.state.families.values() if f.user_id == user_id])

    def activity(self, user_id: int) -> list[AuditEvent]:
        return copy.deepcopy([e for e in reversed(self.state.audit) if e.user_id == user_id])

    def invitations(self, user_id: int, email: str | None) -> list[Invitation]:
        return copy.deepcopy([
            i for i in self.state.invitations.values()
            if user_id in (i.inviter_id, i.accepted_user_id) or (email and i.email == email)])

    def active_staff(self) -> int:
        return sum(1 for u in self.state.users.values()
                   if u.is_staff and u.is_active and u.deletion_due_at is None)

    def erase(self, user_id: int, addresses: list[str], pseudonym: str,
              keep_message: int | None, customer_id: str | None = None) -> None:
        state = self.state
        for event in state.billing_events.values():
            if customer_id and f'"{customer_id}"' in json.dumps(event.payload):
                event.payload = {"redacted": True}
        for event in state.audit:
            for name, label in (("user_id", "subject"), ("actor_id", "actor")):
                if getattr(event, name) == user_id:
                    event.data = {k: pseudonym if v in addresses else v
                                  for k, v in event.data.items()}
                    event.data[label] = pseudonym
                    setattr(event, name, None)
                    event.ip = event.user_agent = ""
        for message in state.outbox.values():
            if message.user_id == user_id and message.id != keep_message:
                message.payload = {"template": message.payload.get("template"),
                                   "redacted": True}
                message.user_id = None
                if message.status == MessageStatus.PENDING:
                    message.status, message.last_error = MessageStatus.FAILED, "account erased"
        state.invitations = {k: i for k, i in state.invitations.items()
                             if i.email not in addresses}
        for name in ("codes", "families", "totp", "recovery_codes", "mfa_challenges",
                     "address_changes"):  # ON DELETE CASCADE
            table = getattr(state, name)
            setattr(state, name, {k: v for k, v in table.items()
                                  if getattr(v, "user_id", None) != user_id})
        for subscription in state.subscriptions.values():  # ON DELETE SET NULL
            if subscription.user_id == user_id:
                subscription.user_id = None
        state.users.pop(user_id, None)
