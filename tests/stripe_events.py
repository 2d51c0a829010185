"""Stripe webhook events as Stripe sends them (the fields our handlers read), for tests."""

from __future__ import annotations

import itertools
import json
from typing import Any

T0 = 1_767_268_800  # 2026-01-01T12:00:00Z
PERIOD_END = T0 + 30 * 86_400  # 2026-01-31
_ids = itertools.count(1)


def event(kind: str, obj: dict[str, Any], created: int, event_id: str | None = None
          ) -> dict[str, Any]:
    return {"id": event_id or f"evt_{next(_ids)}", "object": "event", "type": kind,
            "created": created, "livemode": False, "api_version": "2025-03-31.basil",
            "data": {"object": obj}}


def subscription(kind: str, status: str, created: int, *, sub: str = "sub_1",
                 customer: str = "cus_1", price: str = "price_pro", user_id: int | None = None,
                 period_end: int = PERIOD_END, cancel_at_period_end: bool = False
                 ) -> dict[str, Any]:
    obj = {
        "id": sub, "object": "subscription", "customer": customer, "status": status,
        "cancel_at_period_end": cancel_at_period_end, "created": T0,
        "metadata": {"user_id": str(user_id)} if user_id else {},
        "items": {"object": "list", "data": [{
            "id": "si_1", "price": {"id": price, "object": "price"},
            "current_period_end": period_end}]},
    }
    return event(f"customer.subscription.{kind}", obj, created)


def checkout_completed(created: int, *, user_id: int, sub: str = "sub_1",
                       customer: str = "cus_1", price: str = "price_pro") -> dict[str, Any]:
    return event("checkout.session.completed", {
        "id": "cs_1", "object": "checkout.session", "mode": "subscription",
        "customer": customer, "subscription": sub, "payment_status": "paid",
        "client_reference_id": str(user_id),
        "metadata": {"user_id": str(user_id), "price_id": price},
    }, created)


def invoice(kind: str, created: int, *, sub: str = "sub_1", customer: str = "cus_1",
            period_end: int = PERIOD_END) -> dict[str, Any]:
    return event(f"invoice.{kind}", {
        "id": "in_1", "object": "invoice", "customer": customer,
        "parent": {"type": "subscription_details",
                   "subscription_details": {"subscription": sub}},
        "lines": {"object": "list", "data": [{"period": {"start": T0, "end": period_end}}]},
    }, created)


def customer_deleted(created: int, customer: str = "cus_1") -> dict[str, Any]:
    return event("customer.deleted", {"id": customer, "object": "customer",
                                      "deleted": True}, created)


def body(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()
