"""What each Stripe event does to our records. Runs inside the event's unit of work.

Order-safe: a subscription only takes news newer than the state it holds
(``Subscription.accepts``), so a late ``customer.subscription.updated`` cannot
undo a later cancellation, whatever order Stripe delivers them in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from webapp.application.common import Service
from webapp.application.interfaces import UnitOfWork
from webapp.domain.billing import ENDED, EPOCH, Subscription, from_timestamp

SUBSCRIPTION_EVENTS = ("customer.subscription.created", "customer.subscription.updated",
                       "customer.subscription.deleted")


def _first_item(obj: dict[str, Any]) -> dict[str, Any]:
    items = (obj.get("items") or {}).get("data") or []
    return items[0] if items else {}


def _price_of(obj: dict[str, Any]) -> str | None:
    price = _first_item(obj).get("price") or {}
    return price.get("id") if isinstance(price, dict) else price


def _period_end(obj: dict[str, Any]) -> datetime | None:
    """On the subscription (older API versions) or on its item (2025-03-31 and later)."""
    return from_timestamp(obj.get("current_period_end") or
                          _first_item(obj).get("current_period_end"))


def _invoice_subscription(obj: dict[str, Any]) -> str | None:
    if isinstance(obj.get("subscription"), str):
        return obj["subscription"]
    details = ((obj.get("parent") or {}).get("subscription_details") or {})
    return details.get("subscription")


def _invoice_period_end(obj: dict[str, Any]) -> datetime | None:
    lines = (obj.get("lines") or {}).get("data") or []
    ends = [line.get("period", {}).get("end") for line in lines if line.get("period")]
    return from_timestamp(max(ends)) if ends else None


class WebhookHandlers(Service):
    def handle(self, uow: UnitOfWork, kind: str, event: dict[str, Any], at: datetime) -> None:
        obj = (event.get("data") or {}).get("object") or {}
        if kind in SUBSCRIPTION_EVENTS:
            self.subscription_changed(uow, obj, at, deleted=kind.endswith(".deleted"))
        elif kind == "checkout.session.completed":
            self.checkout_completed(uow, obj)
        elif kind in ("invoice.paid", "invoice.payment_failed"):
            self.invoice(uow, obj, at, paid=kind == "invoice.paid")
        elif kind == "customer.deleted":
            self.customer_deleted(uow, obj, at)
        # Any other event is stored and acknowledged: nothing of ours depends on it.

    def nobodys(self, uow: UnitOfWork, event: dict[str, Any]) -> bool:
        """Whether the event is about a customer no account of ours has (an erased one's:
        Stripe's ``customer.deleted`` after our deletion carries its email, name and phone)."""
        obj = (event.get("data") or {}).get("object") or {}
        customer = obj.get("id") if obj.get("object") == "customer" else obj.get("customer")
        customer = customer.get("id") if isinstance(customer, dict) else customer
        return bool(customer) and uow.users.get_by_customer(str(customer)) is None

    def _user_id(self, uow: UnitOfWork, obj: dict[str, Any]) -> int | None:
        """The account whose customer it is. Not the user id in the metadata we set at
        Checkout: once that account is erased, SQLite gives its id to the next one."""
        user = uow.users.get_by_customer(str(obj.get("customer") or ""))
        return user.id if user is not None else None

    def subscription_changed(self, uow: UnitOfWork, obj: dict[str, Any], at: datetime,
                             deleted: bool) -> None:
        status = "canceled" if deleted else str(obj.get("status", "incomplete"))
        current = uow.subscriptions.get(str(obj["id"]), lock=True)
        if current is None:
            current = Subscription(stripe_id=str(obj["id"]), customer_id=str(obj["customer"]),
                                   status=status, state_at=EPOCH)
            current.user_id = self._user_id(uow, obj)
            uow.subscriptions.add(current)
        if current.accepts(status, at):
            current.status, current.state_at = status, at
            current.price_id = _price_of(obj) or current.price_id
            current.current_period_end = _period_end(obj) or current.current_period_end
            current.cancel_at_period_end = bool(obj.get("cancel_at_period_end"))
        else:
            current.fill_missing(_price_of(obj), _period_end(obj))
        self._save(uow, current)

    def checkout_completed(self, uow: UnitOfWork, obj: dict[str, Any]) -> None:
        """Links the subscription to the user; its state comes from the subscription's events."""
        if obj.get("mode") != "subscription" or not obj.get("subscription"):
            return
        stripe_id = obj["subscription"]
        stripe_id = stripe_id["id"] if isinstance(stripe_id, dict) else str(stripe_id)
        current = uow.subscriptions.get(stripe_id, lock=True)
        paid = obj.get("payment_status") in ("paid", "no_payment_required")
        if current is None:
            current = Subscription(
                stripe_id=stripe_id, customer_id=str(obj.get("customer") or ""),
                status="active" if paid else "incomplete", state_at=EPOCH,
                price_id=(obj.get("metadata") or {}).get("price_id"),
            )
            current.user_id = self._user_id(uow, obj)
            uow.subscriptions.add(current)
        elif current.user_id is None:
            current.user_id = self._user_id(uow, obj)
        self._save(uow, current)

    def invoice(self, uow: UnitOfWork, obj: dict[str, Any], at: datetime, paid: bool) -> None:
        """Paid: the subscription is active (and renewed). Failed: a live one is past due."""
        stripe_id = _invoice_subscription(obj)
        if not stripe_id:
            return
        current = uow.subscriptions.get(stripe_id, lock=True)
        if current is None:
            current = Subscription(stripe_id=stripe_id, customer_id=str(obj.get("customer")),
                                   status="incomplete", state_at=EPOCH)
            current.user_id = self._user_id(uow, obj)
            uow.subscriptions.add(current)
        status = "active" if paid else "past_due"
        movable = paid or current.status in ("active", "trialing")
        if movable and current.accepts(status, at):
            current.status, current.state_at = status, at
            if paid:
                end = _invoice_period_end(obj)
                if end and (current.current_period_end is None or end > current.current_period_end):
                    current.current_period_end = end
        self._save(uow, current)

    def customer_deleted(self, uow: UnitOfWork, obj: dict[str, Any], at: datetime) -> None:
        """The customer is gone from Stripe: unlink it, and its subscriptions have ended."""
        customer_id = str(obj.get("id", ""))
        user = uow.users.get_by_customer(customer_id, lock=True)
        if user is not None:
            user.stripe_customer_id = None
            uow.users.save(user)
            self.audit(uow, "billing_customer_deleted", user, customer=customer_id)
        for subscription in uow.subscriptions.for_customer(customer_id):
            if subscription.status not in ENDED:
                subscription.status = "canceled"
                subscription.state_at = max(subscription.state_at, at)
                self._save(uow, subscription)

    def _save(self, uow: UnitOfWork, subscription: Subscription) -> None:
        subscription.updated_at = self.now()
        uow.subscriptions.save(subscription)
