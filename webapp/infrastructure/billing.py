"""Stripe behind the billing port; the only module that imports ``stripe``.

``stripe`` (with its HTTP clients, about 10 MiB per process) is imported on the
first Stripe call, not at start-up: an app server whose Stripe calls go through
the outbox workers never loads it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import stripe

from webapp.domain.billing import ENDED, InvalidSignature, Plan

WEBHOOK_TOLERANCE = 300  # seconds; Stripe's own default
# Seconds per call, like every other gateway's: finding then creating a customer (two calls)
# stays within the delivery's send budget, so a slow Stripe is not asked twice.
TIMEOUT = 10


class DisabledBilling:
    """STRIPE_SECRET_KEY unset: billing is off, and says so."""

    enabled = False

    def find_customer(self, user_id: int, email: str | None = None,
                      phone: str | None = None) -> str | None:
        return None

    def create_customer(self, **_: object) -> str:
        raise RuntimeError("billing is off")

    def update_customer(self, **_: object) -> None:
        raise RuntimeError("billing is off")

    def delete_customer(self, customer_id: str) -> None:
        raise RuntimeError("billing is off")

    def list_plans(self) -> list[Plan]:
        return []

    def checkout_url(self, **_: object) -> str:
        raise RuntimeError("billing is off")

    def has_live_subscription(self, customer_id: str) -> bool:
        raise RuntimeError("billing is off")

    def portal_url(self, **_: object) -> str:
        raise RuntimeError("billing is off")


class StripeGateway:
    enabled = True

    def __init__(self, api_key: str, api_base: str | None = None,
                 http_client: stripe.HTTPClient | None = None) -> None:
        self._api_key, self._api_base, self._http_client = api_key, api_base, http_client
        self._client: stripe.StripeClient | None = None

    @property
    def client(self) -> stripe.StripeClient:
        if self._client is None:
            stripe = _stripe()
            kwargs: dict = {"max_network_retries": 0,  # the outbox retries, with backoff
                            "http_client": self._http_client
                            or stripe.RequestsClient(timeout=TIMEOUT)}
            if self._api_base:
                kwargs["base_addresses"] = {"api": self._api_base.rstrip("/")}
            self._client = stripe.StripeClient(self._api_key, **kwargs)
        return self._client

    # --- customers -------------------------------------------------------------------

    def find_customer(self, user_id: int, email: str | None = None,
                      phone: str | None = None) -> str | None:
        """A customer already made for this user, e.g. by a worker killed after Stripe answered.

        By email when there is one: a list is immediately consistent (search lags by up
        to a minute) and works on localstripe. Phone-only users: search by our metadata
        (a scan where search is not offered, as on localstripe). Within 24 h the
        idempotency key covers what search has not indexed yet. A phone, when given, must
        match too: SQLite gave an erased account's id to the next account until migration
        0012_user_ids (and may once more for an id freed just before it), and the erased
        one's customer may not be deleted yet.
        """
        wanted = str(int(user_id))
        if email:
            listed = self.client.v1.customers.list(params={"email": email, "limit": 100})
            return _with_user(listed.auto_paging_iter(), wanted)
        try:
            result = self.client.v1.customers.search(
                params={"query": f"metadata['user_id']:'{wanted}'", "limit": 10})
        except _stripe().InvalidRequestError:  # search is not offered
            listed = self.client.v1.customers.list(params={"limit": 100})
            return _with_user(listed.auto_paging_iter(), wanted, phone)
        return _with_user(result.data, wanted, phone)

    def create_customer(self, *, user_id: int, email: str | None, phone: str | None,
                        name: str, idempotency_key: str) -> str:
        params: dict = {"metadata": {"user_id": str(user_id)}}
        if email:
            params["email"] = email
        if phone:
            params["phone"] = phone
        if name:
            params["name"] = name
        customer = self.client.v1.customers.create(
            params=params, options={"idempotency_key": idempotency_key})
        return customer.id

    def update_customer(self, *, customer_id: str, email: str | None, phone: str | None,
                        idempotency_key: str) -> None:
        self.client.v1.customers.update(
            customer_id, params={"email": email or "", "phone": phone or ""},
            options={"idempotency_key": idempotency_key})

    def delete_customer(self, customer_id: str) -> None:
        """Subscriptions first (Stripe would end them with the customer, but an explicit
        cancel is what the account owner was promised), then the customer."""
        stripe = _stripe()
        try:
            listed = self.client.v1.subscriptions.list(
                params={"customer": customer_id, "status": "all", "limit": 100})
            for subscription in listed.auto_paging_iter():
                if subscription.status not in ENDED:
                    self.client.v1.subscriptions.cancel(subscription.id)
            self.client.v1.customers.delete(customer_id)
        except stripe.InvalidRequestError as exc:
            if getattr(exc, "http_status", None) != 404:
                raise  # anything but "no such customer" is retried

    # --- plans, checkout, portal -----------------------------------------------------

    def list_plans(self) -> list[Plan]:
        prices = self.client.v1.prices.list(params={
            "active": True, "type": "recurring", "limit": 100, "expand": ["data.product"]})
        return [_plan(price.to_dict()) for price in prices.auto_paging_iter()
                if _product_active(price.to_dict())]

    def checkout_url(self, *, customer_id: str, price_id: str, user_id: int, success_url: str,
                     cancel_url: str, idempotency_key: str) -> str:
        metadata = {"user_id": str(user_id), "price_id": price_id}
        self._expire_open_sessions(customer_id, idempotency_key)
        session = self.client.v1.checkout.sessions.create(params={
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": str(user_id),
            "line_items": [{"price": price_id, "quantity": 1}],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": {**metadata, "checkout_key": idempotency_key},
            "subscription_data": {"metadata": metadata},
        }, options={"idempotency_key": idempotency_key})
        return str(session.url)

    def _expire_open_sessions(self, customer_id: str, keep_key: str) -> None:
        """One open Checkout per customer: two tabs, or two clicks a minute apart, cannot
        both be paid into two subscriptions. The session of this very key stays open (a
        repeated click gets it back: Stripe replays the create)."""
        listed = self.client.v1.checkout.sessions.list(
            params={"customer": customer_id, "status": "open", "limit": 100})
        for session in listed.auto_paging_iter():
            if (session.to_dict().get("metadata") or {}).get("checkout_key") != keep_key:
                self.client.v1.checkout.sessions.expire(session.id)

    def has_live_subscription(self, customer_id: str) -> bool:
        listed = self.client.v1.subscriptions.list(
            params={"customer": customer_id, "status": "all", "limit": 100})
        return any(subscription.status not in ENDED for subscription in listed.auto_paging_iter())

    def portal_url(self, *, customer_id: str, return_url: str) -> str:
        session = self.client.v1.billing_portal.sessions.create(
            params={"customer": customer_id, "return_url": return_url})
        return str(session.url)


def _stripe() -> Any:
    import stripe

    return stripe


def _with_user(customers: Any, user_id: str, phone: str | None = None) -> str | None:
    for customer in customers:
        data = customer.to_dict()
        if (data.get("metadata") or {}).get("user_id") == user_id \
                and (phone is None or data.get("phone") == phone):
            return customer.id
    return None


def _product_active(price: dict[str, Any]) -> bool:
    product = price.get("product")
    return not isinstance(product, dict) or bool(product.get("active", True))


def _plan(price: dict[str, Any]) -> Plan:
    product = price.get("product")
    product = product if isinstance(product, dict) else {}
    recurring = price.get("recurring") or {}
    return Plan(
        price_id=price["id"],
        name=product.get("name") or price.get("nickname") or price["id"],
        amount=price.get("unit_amount"),
        currency=price.get("currency", ""),
        interval=recurring.get("interval", ""),
        interval_count=int(recurring.get("interval_count") or 1),
        product_metadata={str(k): str(v) for k, v in (product.get("metadata") or {}).items()},
    )


class StripeWebhooks:
    """``stripe.Webhook.construct_event`` over the raw body, 300 s tolerance."""

    def __init__(self, secret: str, tolerance: int = WEBHOOK_TOLERANCE) -> None:
        self.secret = secret
        self.tolerance = tolerance

    @property
    def configured(self) -> bool:
        return bool(self.secret)

    def verify(self, payload: bytes, signature: str) -> dict[str, Any]:
        try:
            _stripe().Webhook.construct_event(payload, signature, self.secret, self.tolerance)
        except _stripe().SignatureVerificationError as exc:
            raise InvalidSignature() from exc
        except ValueError as exc:  # signed, but not JSON
            raise InvalidSignature("The webhook body is not a JSON event.") from exc
        data = json.loads(payload)
        if not isinstance(data, dict):
            raise InvalidSignature("The webhook body is not a JSON event.")
        return data
