"""Outbox jobs that keep the Stripe customer in step with the account: its addresses
after a change, and its deletion (with its subscriptions) after the account's erasure.

Each is retried by the delivery with backoff; billing off, they wait without spending
attempts. Both are idempotent: an update sends the account's current addresses, and
deleting a customer that is already gone counts as done.
"""

from __future__ import annotations

from webapp.application.common import Ports, Service
from webapp.application.delivery import BillingOff
from webapp.application.interfaces import BillingGateway
from webapp.domain.model import OutboxMessage


class CustomerJobs(Service):
    def __init__(self, ports: Ports, gateway: BillingGateway) -> None:
        super().__init__(ports)
        self.gateway = gateway

    def update(self, message: OutboxMessage) -> None:
        """``CUSTOMER_UPDATE``: the customer gets the account's email and phone as they are
        now. No customer yet: nothing to do (it is created with the current ones)."""
        with self.ports.uow() as uow:  # the row lock: see stripe_customer
            user = uow.users.get(int(message.payload.get("user_id") or 0), lock=True)
        if user is None or not user.stripe_customer_id:
            return
        if not self.gateway.enabled:
            raise BillingOff()
        self.gateway.update_customer(
            customer_id=user.stripe_customer_id, email=user.email, phone=user.phone,
            idempotency_key=message.idempotency_key or f"outbox-{message.id}")

    def delete(self, message: OutboxMessage) -> None:
        """``CUSTOMER_DELETE``: cancel the customer's subscriptions and delete it. Without
        its id (an erased account's creation attempt whose outcome was unknown): the
        customer Stripe holds for that account, if any."""
        if not self.gateway.enabled:
            raise BillingOff()
        customer = str(message.payload.get("customer_id") or "")
        if not customer and message.payload.get("user_id"):
            customer = self._erased_accounts(int(message.payload["user_id"]))
        if customer:
            self.gateway.delete_customer(customer)

    def _erased_accounts(self, user_id: int) -> str:
        """The customer Stripe holds for the erased account ``user_id``; none when an
        account has that id again (SQLite reused the highest id before 0012_user_ids, and
        may once more for one freed just before it): then the customer found
        may be the new account's, which is not ours to delete."""
        with self.ports.uow() as uow:
            if uow.users.get(user_id) is not None:
                return ""
        return self.gateway.find_customer(user_id) or ""
