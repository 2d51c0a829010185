"""Fakes of Stripe: the gateway and the webhook verifier."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from webapp.domain.billing import InvalidSignature, Plan


class FakeBilling:
    """Stripe at the port: customers, plans, and the Checkout/portal sessions asked for."""

    enabled = True

    def __init__(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.fail_times = 0
        self.die_after_create = 0  # the call succeeds at Stripe, then the worker "dies"
        self.plans: list[Plan] = [
            Plan("price_basic", "Basic", 500, "usd", "month", product_metadata={"plan": "true"}),
            Plan("price_pro", "Pro", 1500, "usd", "month", product_metadata={"plan": "true"}),
            Plan("price_other", "Internal", 100, "usd", "month"),
        ]
        self.plan_calls = 0
        self.sessions: list[dict[str, Any]] = []
        self.portals: list[dict[str, Any]] = []
        self.updates: list[str] = []  # idempotency keys of customer updates
        self.deleted: list[str] = []  # customers deleted (with their subscriptions)
        self.subscribed: set[str] = set()  # customers with a live subscription at Stripe
        # Runs while a create or update "is at Stripe", with the call's name: what another
        # request does meanwhile.
        self.meanwhile: Callable[[str], None] | None = None

    def find_customer(self, user_id: int, email: str | None = None,
                      phone: str | None = None) -> str | None:
        return next((cid for cid, c in self.customers.items()
                     if c["metadata"]["user_id"] == str(user_id)
                     and (email is None or c.get("email") == email)
                     and (email or phone is None or c.get("phone") == phone)), None)

    def create_customer(
        self, *, user_id: int, email: str | None, phone: str | None, name: str, idempotency_key: str
    ) -> str:
        if self.fail_times:
            self.fail_times -= 1
            raise TimeoutError("stripe timed out")
        self._meanwhile("create_customer")
        cid = f"cus_{len(self.customers) + len(self.deleted) + 1}"
        self.customers[cid] = {
            "email": email,
            "phone": phone,
            "name": name,
            "metadata": {"user_id": str(user_id)},
            "key": idempotency_key,
        }
        if self.die_after_create:
            self.die_after_create -= 1
            raise ConnectionResetError("worker killed after Stripe answered")
        return cid

    def update_customer(self, *, customer_id: str, email: str | None, phone: str | None,
                        idempotency_key: str) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise TimeoutError("stripe timed out")
        self._meanwhile("update_customer")
        self.customers[customer_id].update(email=email, phone=phone)
        self.updates.append(idempotency_key)

    def _meanwhile(self, call: str) -> None:
        if self.meanwhile is not None:
            self.meanwhile(call)

    def delete_customer(self, customer_id: str) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise TimeoutError("stripe timed out")
        self.customers.pop(customer_id, None)  # gone already: done all the same
        self.deleted.append(customer_id)

    def list_plans(self) -> list[Plan]:
        self.plan_calls += 1
        if self.fail_times:
            self.fail_times -= 1
            raise TimeoutError("stripe timed out")
        return list(self.plans)

    def checkout_url(self, **params: Any) -> str:
        self.sessions.append(params)
        return f"https://checkout.stripe.test/c/cs_{len(self.sessions)}"

    def has_live_subscription(self, customer_id: str) -> bool:
        if self.fail_times:
            self.fail_times -= 1
            raise TimeoutError("stripe timed out")
        return customer_id in self.subscribed

    def portal_url(self, **params: Any) -> str:
        self.portals.append(params)
        return f"https://billing.stripe.test/p/bps_{len(self.portals)}"


class FakeWebhooks:
    """Signature check at the port: ``"valid"`` passes, anything else is forged."""

    configured = True

    def verify(self, payload: bytes, signature: str) -> dict[str, Any]:
        if signature != "valid":
            raise InvalidSignature()
        return json.loads(payload)
