"""Billing: plans from Stripe, Checkout and the billing portal, the account's subscription,
and signed webhooks that keep subscriptions in step. Stripe sits behind the BillingGateway port.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from webapp.application.billing_events import WebhookHandlers
from webapp.application.common import Ports, Service
from webapp.application.interfaces import (
    BillingGateway,
    UniqueConflict,
    UnitOfWork,
    WebhookVerifier,
)
from webapp.application.stripe_customer import queue_customer_now
from webapp.domain.billing import (
    ENDED,
    BillingEvent,
    BillingUnavailable,
    EventFailed,
    Plan,
    Subscription,
    from_timestamp,
)
from webapp.domain.errors import Unverified, ValidationFailed
from webapp.domain.model import User

log = logging.getLogger(__name__)
T = TypeVar("T")

BILLING_OFF = "Billing is not set up on this site."
CUSTOMER_PENDING = "Your billing account is still being set up. Try again in a minute."
STRIPE_DOWN = "Billing cannot be reached right now. Try again in a minute."
SUBSCRIBED = "You already have a subscription; change it with Manage billing."
PLAN_FLAGS = {"true", "1", "yes"}


@dataclass(frozen=True)
class BillingSettings:
    """Which prices are plans (STRIPE_PRICES, in order; else products with metadata plan=true)."""

    prices: tuple[str, ...] = ()
    plans_ttl: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class SubscriptionView:
    """What the account page and ``GET /api/billing/subscription/`` show."""

    plan: str | None = None
    plan_name: str | None = None
    status: str | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False

    @property
    def subscribed(self) -> bool:
        """Still counts (even paused or incomplete): no second subscription beside it."""
        return self.status is not None and self.status not in ENDED

    @property
    def renews_at(self) -> datetime | None:
        """The next renewal; none once it is set to end at the period's end."""
        live = self.status in ("active", "trialing", "past_due")
        return self.current_period_end if live and not self.cancel_at_period_end else None


@dataclass(frozen=True)
class BillingSummary:
    """The account page's billing panel."""

    enabled: bool
    subscription: SubscriptionView = field(default_factory=SubscriptionView)
    plans: list[Plan] = field(default_factory=list)
    has_customer: bool = False
    plans_unavailable: str | None = None  # why no plans are shown: Stripe cannot be reached

    @property
    def subscribed(self) -> bool:
        return self.subscription.subscribed


class BillingService(Service):
    def __init__(self, ports: Ports, gateway: BillingGateway, webhooks: WebhookVerifier,
                 settings: BillingSettings | None = None) -> None:
        super().__init__(ports)
        self.gateway = gateway
        self.webhooks = webhooks
        self.settings = settings or BillingSettings()
        self.handlers = WebhookHandlers(ports)
        self._plans: list[Plan] = []
        self._plans_until: datetime | None = None

    @property
    def enabled(self) -> bool:
        """False when STRIPE_SECRET_KEY is unset: the pages say billing is off."""
        return bool(self.gateway.enabled)

    # --- plans -----------------------------------------------------------------------

    def plans(self) -> list[Plan]:
        """The plans on offer, from Stripe, cached for ``plans_ttl``."""
        if not self.enabled:
            return []
        now = self.now()
        if self._plans_until is not None and now < self._plans_until:
            return self._plans
        try:
            offered = self._offered(self.gateway.list_plans())
        except Exception as exc:  # noqa: BLE001 - Stripe down: keep what we had, if anything
            log.warning("listing plans from Stripe failed: %s", type(exc).__name__)
            if self._plans:
                return self._plans
            raise BillingUnavailable("Plans cannot be loaded right now. Try again later.") from exc
        self._plans, self._plans_until = offered, now + self.settings.plans_ttl
        return offered

    def _offered(self, plans: list[Plan]) -> list[Plan]:
        if self.settings.prices:
            by_id = {plan.price_id: plan for plan in plans}
            return [by_id[price] for price in self.settings.prices if price in by_id]
        return [p for p in plans if p.product_metadata.get("plan", "").lower() in PLAN_FLAGS]

    def _plan(self, price_id: str) -> Plan:
        plan = next((p for p in self.plans() if p.price_id == price_id), None)
        if plan is None:
            raise ValidationFailed.single("plan", "Choose one of the plans on offer.")
        return plan

    # --- checkout and portal ---------------------------------------------------------

    def checkout(self, user_id: int, price_id: str) -> str:
        """The URL of a Stripe Checkout session (subscription mode) for the user's customer."""
        self._require_enabled()
        plan = self._plan(price_id)
        if self.subscription(user_id).subscribed:
            raise ValidationFailed.single("plan", SUBSCRIBED)
        customer = self._customer_of(user_id)
        # Stripe's word too: back from a paid Checkout, its webhook may not be here yet.
        if self._at_stripe(lambda: self.gateway.has_live_subscription(customer)):
            raise ValidationFailed.single("plan", SUBSCRIBED)
        minute = int(self.now().timestamp() // 60)  # a double click within a minute: one session
        return self._at_stripe(lambda: self.gateway.checkout_url(
            customer_id=customer, price_id=plan.price_id, user_id=user_id,
            success_url=self.policy.link("/account?checkout=success"),
            cancel_url=self.policy.link("/account?checkout=cancelled"),
            idempotency_key=f"checkout-{user_id}-{plan.price_id}-{minute}",
        ))

    def portal(self, user_id: int) -> str:
        """The URL of the Stripe billing portal, where the user changes or cancels."""
        self._require_enabled()
        customer = self._customer_of(user_id)
        return self._at_stripe(lambda: self.gateway.portal_url(
            customer_id=customer, return_url=self.policy.link("/account")))

    @staticmethod
    def _at_stripe(call: Callable[[], T]) -> T:
        """Stripe failing to answer is "try again later" (503), not a crash."""
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - any failure of the gateway
            log.warning("a Stripe call failed: %s", type(exc).__name__)
            raise BillingUnavailable(STRIPE_DOWN, code="stripe_unavailable") from exc

    def _require_enabled(self) -> None:
        if not self.enabled:
            raise BillingUnavailable(BILLING_OFF, code="billing_off")

    def _customer_of(self, user_id: int) -> str:
        """The user's customer; if there is none yet, its creation is hurried along."""
        with self.ports.uow() as uow:
            user = uow.users.get(user_id)
            if user is None or not user.is_active or not user.is_verified:
                raise Unverified()
            if user.stripe_customer_id:
                return user.stripe_customer_id
            self._hurry_customer(uow, user)
        raise BillingUnavailable(CUSTOMER_PENDING, code="customer_pending")

    def _hurry_customer(self, uow: UnitOfWork, user: User) -> None:
        queue_customer_now(self, uow, user)
        with contextlib.suppress(UniqueConflict):  # a simultaneous click queued it
            uow.commit()

    # --- what the account shows ------------------------------------------------------

    def subscription(self, user_id: int) -> SubscriptionView:
        """The user's current subscription (the live one, else the latest), or nulls."""
        with self.ports.uow() as uow:
            user = uow.users.get(user_id)
            if user is None:
                return SubscriptionView()
            found = uow.subscriptions.for_user(user_id, user.stripe_customer_id)
        if not found:
            return SubscriptionView()
        current = max(found, key=lambda s: (s.is_live, s.state_at, s.id or 0))
        return SubscriptionView(
            plan=current.price_id, plan_name=self._plan_name(current),
            status=current.status, current_period_end=current.current_period_end,
            cancel_at_period_end=current.cancel_at_period_end,
        )

    def _plan_name(self, subscription: Subscription) -> str | None:
        if subscription.price_id is None:
            return None
        try:
            plans = self.plans()
        except BillingUnavailable:
            plans = self._plans
        return next((p.name for p in plans if p.price_id == subscription.price_id),
                    subscription.price_id)

    def summary(self, user_id: int) -> BillingSummary:
        """Everything the account page's billing panel shows; never fails for Stripe's sake."""
        if not self.enabled:
            return BillingSummary(enabled=False, subscription=self.subscription(user_id))
        try:
            plans, unavailable = self.plans(), None
        except BillingUnavailable as exc:
            plans, unavailable = [], exc.detail
        with self.ports.uow() as uow:
            user = uow.users.get(user_id)
        return BillingSummary(enabled=True, subscription=self.subscription(user_id),
                              plans=plans, has_customer=bool(user and user.stripe_customer_id),
                              plans_unavailable=unavailable)

    # --- webhooks --------------------------------------------------------------------

    def handle_webhook(self, payload: bytes, signature: str) -> bool:
        """Verify, store by id, process once. True when processed now, False for a repeat.

        A handler that fails leaves the event unprocessed and raises EventFailed,
        so that the endpoint answers 5xx and Stripe delivers it again.
        """
        if not self.webhooks.configured:
            raise BillingUnavailable("Webhooks are not configured (STRIPE_WEBHOOK_SECRET).",
                                     code="webhooks_off")
        data = self.webhooks.verify(payload, signature)
        event_id = str(data.get("id", ""))
        if not event_id:
            raise ValidationFailed.single("id", "The event has no id.")
        self._store(event_id, data)
        try:
            return self._process(event_id, data)
        except Exception as exc:
            log.exception("webhook event %s (%s) failed", event_id, data.get("type"))
            self._record_failure(event_id, exc)
            raise EventFailed() from exc

    def _store(self, event_id: str, data: dict[str, Any]) -> None:
        with self.ports.uow() as uow:
            if uow.billing_events.get(event_id) is not None:
                return
            try:
                uow.billing_events.add(BillingEvent(
                    id=event_id, type=str(data.get("type", "")), payload=data,
                    created=from_timestamp(data.get("created")) or self.now(),
                    received_at=self.now()))
                uow.commit()
            except UniqueConflict:
                pass  # the same event arrived twice at once; the row lock below serialises them

    def _process(self, event_id: str, data: dict[str, Any]) -> bool:
        with self.ports.uow() as uow:
            event = uow.billing_events.get(event_id, lock=True)
            if event is None or event.processed_at is not None:
                return False
            if self.handlers.nobodys(uow, data):  # an erased customer's: keep nothing of it
                event.payload = {"redacted": True}
            self.handlers.handle(uow, event.type, data, event.created)
            event.processed_at = self.now()
            event.attempts += 1
            event.last_error = None
            uow.billing_events.save(event)
            uow.commit()
            return True

    def _record_failure(self, event_id: str, exc: Exception) -> None:
        with self.ports.uow() as uow:
            event = uow.billing_events.get(event_id, lock=True)
            if event is not None and event.processed_at is None:
                event.attempts += 1
                event.last_error = f"{type(exc).__name__}: {exc}"[:500]
                uow.billing_events.save(event)
                uow.commit()
