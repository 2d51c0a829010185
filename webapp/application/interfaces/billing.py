"""Stripe, seen from the use cases."""

from __future__ import annotations

from typing import Any, Protocol

from webapp.domain.billing import Plan


class BillingGateway(Protocol):
    """Stripe, seen from the use cases. Never import ``stripe`` outside its adapter."""

    @property
    def enabled(self) -> bool: ...

    def find_customer(self, user_id: int, email: str | None = None,
                      phone: str | None = None) -> str | None:
        """An existing customer made for this user (metadata ``user_id``), if any; with an
        email, one of that email; else, with a phone, one of that phone (an erased
        account's id may be another account's by now)."""
        ...

    def create_customer(
        self,
        *,
        user_id: int,
        email: str | None,
        phone: str | None,
        name: str,
        idempotency_key: str,
    ) -> str: ...

    def update_customer(self, *, customer_id: str, email: str | None, phone: str | None,
                        idempotency_key: str) -> None:
        """The customer's email and phone become these (None clears one)."""
        ...

    def delete_customer(self, customer_id: str) -> None:
        """Cancel the customer's subscriptions now and delete the customer. A customer that
        is already gone counts as deleted."""
        ...

    def list_plans(self) -> list[Plan]:
        """Every active recurring price, with its product's name and metadata."""
        ...

    def checkout_url(
        self,
        *,
        customer_id: str,
        price_id: str,
        user_id: int,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> str:
        """A Checkout Session in subscription mode for this customer; its URL."""
        ...

    def has_live_subscription(self, customer_id: str) -> bool:
        """Whether Stripe holds a subscription of this customer that has not ended."""
        ...

    def portal_url(self, *, customer_id: str, return_url: str) -> str:
        """A billing portal session for this customer; its URL."""
        ...


class WebhookVerifier(Protocol):
    """Checks a webhook's signature over the raw body (Stripe-Signature, with a tolerance)."""

    @property
    def configured(self) -> bool: ...

    def verify(self, payload: bytes, signature: str) -> dict[str, Any]:
        """The event as plain data, or raises InvalidSignature."""
        ...
