"""The billing endpoints at /api/billing/*: Checkout, the portal, the subscription, webhooks."""

from __future__ import annotations

from datetime import datetime

from flask import Response, request

from webapp.application.billing import SubscriptionView
from webapp.domain.billing import EventFailed
from webapp.interface.api.base import ApiError, bearer_user, endpoint, reply, services
from webapp.interface.api.model import Field
from webapp.interface.api.schemas import ErrorOut, In, Out

MAX_WEBHOOK_BODY = 512 * 1024  # Stripe events can exceed the API's 64 KiB
UNAUTHORIZED = ("Not authenticated", ErrorOut)
BILLING_OFF = ("Billing is off (no STRIPE_SECRET_KEY), Stripe cannot be reached, or the "
               "user's Stripe customer is still being created (code=customer_pending)", ErrorOut)


class CheckoutIn(In):
    plan: str = Field(description="The Stripe price id of one of the plans on offer.",
                      examples=["price_1PqXYZ"])


class UrlOut(Out):
    url: str


class PlanOut(Out):
    id: str = Field(description="The Stripe price id; send it as `plan` to checkout.")
    name: str
    amount: int | None = Field(description="In the currency's smallest unit (cents).")
    currency: str
    interval: str
    interval_count: int


class PlansOut(Out):
    enabled: bool
    plans: list[PlanOut]


class SubscriptionOut(Out):
    enabled: bool = Field(description="False when billing is off on this site.")
    plan: str | None = Field(description="The Stripe price id of the subscription.")
    plan_name: str | None
    status: str | None = Field(description="Stripe's status: active, trialing, past_due, "
                               "unpaid, incomplete, canceled, ...")
    renews_at: datetime | None = Field(description="The next renewal; null once set to end.")
    current_period_end: datetime | None
    cancel_at_period_end: bool

    @classmethod
    def of(cls, enabled: bool, view: SubscriptionView) -> SubscriptionOut:
        return cls(enabled=enabled, plan=view.plan, plan_name=view.plan_name,
                   status=view.status, renews_at=view.renews_at,
                   current_period_end=view.current_period_end,
                   cancel_at_period_end=view.cancel_at_period_end)


class WebhookOut(Out):
    received: bool
    duplicate: bool = Field(description="True when this event was already processed.")


@endpoint("/billing/plans/", method="GET", summary="The plans on offer", tag="billing",
          responses={200: ("The plans (empty when billing is off)", PlansOut),
                     503: BILLING_OFF})
def billing_plans() -> Response:
    """The subscription plans, from Stripe (cached for a few minutes)."""
    plans = services().billing.plans()
    return reply(PlansOut(enabled=services().billing.enabled, plans=[
        PlanOut(id=p.price_id, name=p.name, amount=p.amount, currency=p.currency,
                interval=p.interval, interval_count=p.interval_count) for p in plans]))


@endpoint("/billing/checkout/", summary="Start a subscription", body=CheckoutIn, auth=True,
          tag="billing", responses={200: ("The Stripe Checkout URL to send the user to", UrlOut),
                                    400: ("Not a plan on offer, or already subscribed",
                                          ErrorOut),
                                    401: UNAUTHORIZED, 503: BILLING_OFF})
def billing_checkout(data: CheckoutIn) -> Response:
    """A Stripe Checkout session in subscription mode for the user's Stripe customer."""
    user = bearer_user()
    return reply(UrlOut(url=services().billing.checkout(user.id or 0, data.plan)))


@endpoint("/billing/portal/", summary="Open the billing portal", auth=True, tag="billing",
          responses={200: ("The Stripe billing portal URL", UrlOut), 401: UNAUTHORIZED,
                     503: BILLING_OFF})
def billing_portal() -> Response:
    """Where the user changes plan, updates the card or cancels."""
    user = bearer_user()
    return reply(UrlOut(url=services().billing.portal(user.id or 0)))


@endpoint("/billing/subscription/", method="GET", summary="The user's subscription",
          auth=True, tag="billing",
          responses={200: ("Plan, status and renewal date, or nulls", SubscriptionOut),
                     401: UNAUTHORIZED})
def billing_subscription() -> Response:
    """The current subscription as Stripe's webhooks last reported it."""
    user = bearer_user()
    billing = services().billing
    return reply(SubscriptionOut.of(billing.enabled, billing.subscription(user.id or 0)))


@endpoint("/billing/webhook/", summary="Stripe webhook", tag="billing",
          responses={200: ("Verified and stored; a repeated event is acknowledged only",
                           WebhookOut),
                     400: ("Bad or stale Stripe-Signature (300 s tolerance)", ErrorOut),
                     413: ("The body is larger than 512 KiB", ErrorOut),
                     500: ("Processing failed; the event is kept and Stripe retries", ErrorOut),
                     503: ("STRIPE_WEBHOOK_SECRET is not set", ErrorOut)})
def billing_webhook() -> Response:
    """A Stripe event, signed over the raw body (Stripe-Signature header)."""
    if (request.content_length or 0) > MAX_WEBHOOK_BODY:
        raise ApiError(413, "The event is too large.", "too_large")
    # The blueprint allows 64 KiB; an event may be larger. One byte more shows a chunked
    # body that went over (see base._limit_body).
    request.max_content_length = MAX_WEBHOOK_BODY + 1
    payload = request.get_data(cache=False)
    if len(payload) > MAX_WEBHOOK_BODY:
        raise ApiError(413, "The event is too large.", "too_large")
    signature = request.headers.get("Stripe-Signature", "")
    try:
        processed = services().billing.handle_webhook(payload, signature)
    except EventFailed as exc:
        raise ApiError(500, exc.detail, exc.code) from exc
    return reply(WebhookOut(received=True, duplicate=not processed))
