"""Billing turned on after accounts were verified: their Stripe customers, made now.

While STRIPE_SECRET_KEY is unset no Stripe job is queued (see VerificationService), so
an operator who sets it later runs ``flask billing backfill``: every verified account
without a customer gets its creation job, under the same exactly-once guard as always.
"""

from __future__ import annotations

from webapp.application.admin import AdminService
from webapp.application.billing import BILLING_OFF
from webapp.application.interfaces import UserFilter
from webapp.application.stripe_customer import queue_customer_now
from webapp.domain.billing import BillingUnavailable

BATCH = 200


def backfill_customers(admin: AdminService, batch: int = BATCH) -> int:
    """Queue the Stripe customer of every verified account without one; returns how many."""
    if not admin.policy.billing_enabled:
        raise BillingUnavailable(BILLING_OFF, code="billing_off")
    queued, page = 0, 1
    while True:
        found = admin.queries.users(UserFilter(verified=True, customer=False, sort="oldest",
                                               page=page, limit=batch))
        for candidate in found.users:
            with admin.ports.uow() as uow:
                user = uow.users.get(candidate.id or 0, lock=True)
                if user is None or not user.is_verified or user.stripe_customer_id:
                    continue
                queue_customer_now(admin, uow, user)
                uow.commit()
                queued += 1
        if not found.has_next:
            return queued
        page += 1
