"""The account's Stripe customer: queuing its creation (verification, Checkout, staff,
the backfill), and the rules that keep an erased person's data out of Stripe, shared by
the erasure (account_data) and the Stripe jobs (delivery, customer_jobs).

A Stripe job reads the account under its row lock and then sends its addresses to
Stripe; the erasure, under the same row lock, looks for such a job holding a lease. So
either the job reads after the erasure committed (and finds nobody: nothing is sent), or
the erasure sees the job's lease and waits for it (the job may be on the wire) before it
erases anything. A customer whose creation outlived its lease (a hung worker) and came
back for an account that is gone, or that an earlier attempt made before timing out, is
deleted by a ``CUSTOMER_DELETE`` job: retried like any other, so Stripe being down
loses nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from webapp.application.common import Service
from webapp.application.interfaces import UnitOfWork
from webapp.domain.model import MessageKind, MessageStatus, OutboxMessage, User

# Stripe's customer search shows a new customer within a minute; the search for an erased
# account's customer waits twice that.
SEARCH_LAG = timedelta(minutes=2)
# The jobs that send the account's email, phone or name to Stripe.
PERSONAL_DATA_JOBS = (MessageKind.STRIPE_CUSTOMER, MessageKind.CUSTOMER_UPDATE)


def stripe_call_lease(uow: UnitOfWork, user_id: int, now: datetime) -> datetime | None:
    """When the last lease of a job that may be sending the account's data to Stripe
    ends; None when no such job holds one. Read under the account's row lock."""
    leases = [m.locked_until for m in uow.outbox.of_kinds(user_id, PERSONAL_DATA_JOBS)
              if m.status == MessageStatus.PENDING and m.locked_until is not None
              and m.locked_until > now]
    return max(leases, default=None)


def _outcome_unknown(message: OutboxMessage) -> bool:
    """A creation attempt that failed or died may have made the customer at Stripe."""
    tried = message.attempts > 0 or message.locked_by is not None
    return message.kind == MessageKind.STRIPE_CUSTOMER and tried \
        and message.status != MessageStatus.SENT


def queue_customer_deletion(service: Service, uow: UnitOfWork, customer_id: str | None,
                            user_id: int) -> bool:
    """Queue the deletion of the erased account's customer: by its id, or else, when a
    creation attempt's outcome is unknown, of whatever customer Stripe holds for the
    account. True when a deletion was queued. No address goes into the job."""
    if customer_id:
        service.enqueue(uow, MessageKind.CUSTOMER_DELETE, None, {"customer_id": customer_id},
                        idempotency_key=f"customer-delete-{customer_id}")
        return True
    if any(_outcome_unknown(m) for m in uow.outbox.of_kinds(user_id, PERSONAL_DATA_JOBS)):
        now = service.now()
        uow.outbox.add(OutboxMessage(  # found by Stripe's search, whose index lags a minute
            kind=MessageKind.CUSTOMER_DELETE, payload={"user_id": user_id}, created_at=now,
            next_attempt_at=now + SEARCH_LAG,
            idempotency_key=f"customer-delete-user-{user_id}-{int(now.timestamp())}"))
        return True
    return False


def queue_customer_now(service: Service, uow: UnitOfWork, user: User) -> None:
    """The user's Stripe customer is wanted now (Checkout, or staff's retry): a waiting or
    failed creation job is due at once; with none left (the customer was deleted in
    Stripe after the job was delivered), a new job is queued under a new key."""
    now = service.now()
    jobs = uow.outbox.of_kinds(user.id or 0, (MessageKind.STRIPE_CUSTOMER,))
    waiting = [m for m in jobs if m.status != MessageStatus.SENT]
    for job in waiting:
        job.due_again(now, service.policy.delivery_max_attempts)
        uow.outbox.save(job)
    if not waiting:
        key = f"customer-create-{user.id}" + (f"-{int(now.timestamp())}" if jobs else "")
        service.enqueue(uow, MessageKind.STRIPE_CUSTOMER, user, {"user_id": user.id},
                        idempotency_key=key)
