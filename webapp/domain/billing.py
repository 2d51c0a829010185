"""Billing: plans, subscriptions kept in step with Stripe, and the webhook events that move them.

Stripe may deliver events twice and in any order. A subscription therefore
remembers the time of the state it holds (``state_at``, the Stripe event's
``created``) and only accepts newer news; on a tie the later stage of the
lifecycle wins, and an ended subscription never comes back to life.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from webapp.domain.errors import DomainError, ServiceUnavailable

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# How far along its life a Stripe subscription status is, for events of the same second.
STATUS_RANK = {
    "incomplete": 0, "trialing": 1, "active": 2, "past_due": 2, "unpaid": 2, "paused": 2,
    "incomplete_expired": 3, "canceled": 3,
}
ENDED = frozenset({"canceled", "incomplete_expired"})
LIVE = frozenset({"trialing", "active", "past_due", "unpaid", "paused", "incomplete"})


class BillingUnavailable(ServiceUnavailable):
    """Billing is off (no STRIPE_SECRET_KEY), or Stripe cannot be reached right now."""

    code = "billing_unavailable"
    default_detail = "Billing is not available."


class InvalidSignature(DomainError):
    """A webhook whose Stripe-Signature is missing, forged or older than the tolerance."""

    code = "invalid_signature"
    default_detail = "The webhook signature is invalid or too old."


class EventFailed(DomainError):
    """Handling a stored webhook event failed; it stays unprocessed for Stripe's retry."""

    code = "event_failed"
    default_detail = "The event could not be processed; it will be retried."


def from_timestamp(value: Any) -> datetime | None:
    """Stripe's Unix seconds as an aware UTC datetime."""
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


@dataclass(frozen=True)
class Plan:
    """A recurring Stripe Price with its Product's name."""

    price_id: str
    name: str
    amount: int | None  # in the currency's smallest unit
    currency: str
    interval: str
    interval_count: int = 1
    product_metadata: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.amount is None:
            return self.name
        every = self.interval if self.interval_count == 1 else (
            f"{self.interval_count} {self.interval}s")
        return f"{self.name} — {self.amount / 100:.2f} {self.currency.upper()} / {every}"


@dataclass(eq=False)
class Subscription:
    stripe_id: str
    customer_id: str
    status: str
    state_at: datetime
    user_id: int | None = None
    price_id: str | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    updated_at: datetime | None = None
    id: int | None = None

    @property
    def is_live(self) -> bool:
        return self.status in LIVE

    def accepts(self, status: str, at: datetime) -> bool:
        """Whether news of ``status`` as of ``at`` is newer than what we hold."""
        if self.status in ENDED and status not in ENDED:
            return False
        if at != self.state_at:
            return at > self.state_at
        return STATUS_RANK.get(status, 0) >= STATUS_RANK.get(self.status, 0)

    def fill_missing(self, price_id: str | None, period_end: datetime | None) -> None:
        """Stale news may still carry facts we lack (an invoice can arrive before its plan)."""
        self.price_id = self.price_id or price_id
        self.current_period_end = self.current_period_end or period_end


@dataclass(eq=False)
class BillingEvent:
    """A verified Stripe event, stored by its id so that it is processed once."""

    id: str
    type: str
    created: datetime
    received_at: datetime
    payload: dict[str, Any]
    processed_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
