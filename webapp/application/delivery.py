"""Delivering the outbox: email, SMS and Stripe customer creation, with retries and backoff.

Messages are claimed under a lease (a dead worker's claim expires), sent with a
stable idempotency key, and marked sent or rescheduled. Nothing is ever lost: a
message that keeps failing ends as ``failed`` for staff to retry, and so, at once,
does one a gateway refuses for good (``Undeliverable``: a recipient the mail server
says does not exist, a number Twilio says is invalid, is not asked for again ten times
over an hour and a half).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import NamedTuple

from webapp.application.common import Ports, Service
from webapp.application.interfaces import BillingGateway, Mailer, SmsSender, Undeliverable
from webapp.application.stripe_customer import queue_customer_deletion
from webapp.domain.errors import NotFound
from webapp.domain.model import MessageKind, MessageStatus, OutboxMessage

log = logging.getLogger(__name__)

BACKOFF_CAP = timedelta(hours=1)
BILLING_OFF_RECHECK = timedelta(hours=1)


class BillingOff(Exception):
    """Billing is not configured; the job waits without spending an attempt."""


def backoff(attempts: int, base: timedelta = timedelta(seconds=10)) -> timedelta:
    """``base`` after the first failure, doubling after each one, at most an hour."""
    return min(base * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


class Delivered(NamedTuple):
    tried: int  # messages taken in hand (sent, failed or handed back)
    released: int  # handed back untried: due to any worker's next claim


class DeliveryService(Service):
    def __init__(self, ports: Ports, mailer: Mailer, sms: SmsSender,
                 billing: BillingGateway, keep_bodies: bool = True) -> None:
        super().__init__(ports)
        self.mailer = mailer
        self.sms = sms
        self.billing = billing
        self.keep_bodies = keep_bodies
        # Jobs of other use cases (Stripe customer updates and deletions, account
        # erasure), registered by ``wire_services``: a job's handler raises to be retried.
        self.handlers: dict[MessageKind, Callable[[OutboxMessage], None]] = {}

    def deliver_due(self, worker: str, limit: int = 20,
                    stop: Callable[[], bool] | None = None) -> int:
        """Claim and deliver up to ``limit`` due messages; returns how many were tried.

        ``stop`` is asked after each message (a worker's SIGTERM): the message in
        hand is finished, and the claims on the rest are handed back at once
        rather than left to expire with their lease.
        """
        now = self.now()
        with self.ports.uow() as uow:
            batch = uow.outbox.claim_due(now, now + self.policy.delivery_lease, worker, limit)
            uow.commit()
        return self.deliver_claimed(batch, worker, stop).tried

    def claim_at_birth(self, message: OutboxMessage, worker: str) -> None:
        """Claim a message being queued for ``worker``, in the transaction that queues it.

        The inline delivery thread of the process that queues a message sends it after
        the commit, from memory, without a claim transaction of its own (the lease is the
        same as a claim's: if the process dies first, the message is any worker's once
        the lease has ended). A message not due yet is left to the claims.
        """
        now = self.now()
        if message.next_attempt_at <= now and message.status == MessageStatus.PENDING:
            message.locked_by, message.locked_until = worker, now + self.policy.delivery_lease

    def deliver_claimed(self, batch: list[OutboxMessage], worker: str,
                        stop: Callable[[], bool] | None = None) -> Delivered:
        """Deliver messages whose lease ``worker`` holds (see ``deliver_due``)."""
        released = 0
        for tried, message in enumerate(batch, start=1):
            if self._lease_left(message) < self.policy.delivery_send_budget:
                # Too little of the lease is left to finish a send: once it runs out another
                # worker may claim the message, and two sends would be a duplicate.
                self._release(message, worker)
                released += 1
            else:
                self._deliver(message, worker)
            if stop is not None and stop():
                self.hand_back(batch[tried:], worker)
                return Delivered(tried, released + len(batch) - tried)
        return Delivered(len(batch), released)

    def hand_back(self, batch: list[OutboxMessage], worker: str) -> None:
        """Give untried messages back, so that the next claim (any worker) takes them now."""
        for message in batch:
            self._release(message, worker)

    def _lease_left(self, message: OutboxMessage) -> timedelta:
        if message.locked_until is None:
            return self.policy.delivery_lease
        return message.locked_until - self.now()

    def recent_messages(self, limit: int = 50) -> list[OutboxMessage]:
        """The newest emails and text messages, newest first (the dev outbox page)."""
        with self.ports.uow() as uow:
            return uow.outbox.recent((MessageKind.EMAIL, MessageKind.SMS), limit)

    def message(self, message_id: int) -> OutboxMessage:
        """One queued or sent message, or NotFound."""
        with self.ports.uow() as uow:
            message = uow.outbox.get(message_id)
        if message is None:
            raise NotFound("No such message.")
        return message

    def retry(self, message_id: int) -> OutboxMessage:
        """Staff: try a failed or waiting message again now."""
        with self.ports.uow() as uow:
            message = uow.outbox.get(message_id)
            if message is None:
                raise NotFound("No such message.")
            if message.status != MessageStatus.SENT:
                message.due_again(self.now(), self.policy.delivery_max_attempts)
                uow.outbox.save(message)
                uow.commit()
            return message

    def _deliver(self, message: OutboxMessage, worker: str) -> None:
        try:
            self._send(message)
        except BillingOff:
            self._finish(message, worker, error="billing is off", count=False)
        except Undeliverable as exc:
            self._finish(message, worker, error=f"Undeliverable: {exc}"[:500],
                         refused=exc.reason)
        except Exception as exc:  # noqa: BLE001 - any failure of a gateway is retried
            log.warning("delivery of %s #%s failed: %s", message.kind, message.id,
                        type(exc).__name__)
            self._finish(message, worker, error=f"{type(exc).__name__}: {exc}"[:500])
        else:
            self._finish(message, worker)

    def _send(self, message: OutboxMessage) -> None:
        key = message.idempotency_key or f"outbox-{message.id}"
        payload = message.payload
        if message.kind == MessageKind.EMAIL:
            self.mailer.send(payload["to"], payload["subject"], payload["text"],
                             payload.get("html", ""), key)
        elif message.kind == MessageKind.SMS:
            self.sms.send(payload["to"], payload["body"], key)
        elif message.kind == MessageKind.STRIPE_CUSTOMER:
            self._ensure_customer(int(payload["user_id"]), key)
        elif message.kind in self.handlers:
            self.handlers[MessageKind(message.kind)](message)
        else:  # pragma: no cover - a kind without a sender is a programming error
            raise ValueError(f"unknown message kind {message.kind}")

    def _ensure_customer(self, user_id: int, key: str) -> None:
        """Exactly one customer: our unique column first, then Stripe's metadata, then create."""
        if not self.billing.enabled:
            raise BillingOff()
        with self.ports.uow() as uow:  # the row lock: after an erasure, or seen by it
            user = uow.users.get(user_id, lock=True)
        if user is None or user.stripe_customer_id or user.deletion_due_at is not None:
            return  # gone, done, or going: nothing of theirs goes to Stripe any more
        # find_customer: a worker killed after Stripe answered left one behind.
        customer_id = self.billing.find_customer(user_id, user.email, user.phone) or (
            self.billing.create_customer(
                user_id=user_id, email=user.email, phone=user.phone, name=user.full_name,
                idempotency_key=key,
            ))
        with self.ports.uow() as uow:
            user = uow.users.get(user_id, lock=True)
            if user is None or user.stripe_customer_id not in (None, customer_id):
                # Erased while we were at Stripe (our lease ran out first), or another job
                # linked a twin meanwhile: ours goes, with what it holds of the person.
                queue_customer_deletion(self, uow, customer_id, user_id)
                uow.commit()
            elif not user.stripe_customer_id:
                user.stripe_customer_id = customer_id
                uow.users.save(user)
                self.audit(uow, "billing_customer_created", user, customer=customer_id)
                uow.commit()

    def _release(self, message: OutboxMessage, worker: str) -> None:
        """Give an untried message back, so that the next claim (any worker) takes it now."""
        with self.ports.uow() as uow:
            current = uow.outbox.get(message.id or 0)
            if current is not None and current.locked_by == worker:
                current.locked_until = current.locked_by = None
                uow.outbox.save(current)
                uow.commit()

    def _finish(self, message: OutboxMessage, worker: str, error: str | None = None,
                count: bool = True, refused: str | None = None) -> None:
        """``refused``: why no retry can succeed (``Undeliverable``): failed now."""
        now = self.now()
        with self.ports.uow() as uow:
            if error is None:
                # One guarded statement: nothing changes if our lease ran out and another
                # worker owns the message now.
                payload = None if self.keep_bodies else _scrubbed(message.payload)
                if uow.outbox.mark_sent(message.id or 0, worker, now, payload):
                    uow.commit()
                return
            current = uow.outbox.get(message.id or 0)
            if current is None or current.locked_by != worker or current.status != "pending":
                return  # our lease ran out and another worker owns it now
            current.locked_until = None
            current.locked_by = None
            current.last_error = error
            if count:
                current.attempts += 1
            if refused is not None:
                current.status = MessageStatus.FAILED
                log.error("delivery of %s #%s refused for good (%s); marked failed without "
                          "retrying, retry it from /admin/queue", current.kind, current.id,
                          refused)
            elif current.attempts >= self.policy.delivery_max_attempts:
                current.status = MessageStatus.FAILED
                log.error("delivery of %s #%s gave up after %d attempts (last: %s); "
                          "marked failed, retry it from /admin/queue", current.kind,
                          current.id, current.attempts, error.split(":", 1)[0])
            wait = (backoff(current.attempts, self.policy.delivery_backoff) if count
                    else BILLING_OFF_RECHECK)
            current.next_attempt_at = now + wait
            uow.outbox.save(current)
            uow.commit()


def _scrubbed(payload: dict) -> dict:
    """After delivery the outbox keeps who and what, not the codes and links inside."""
    keep = {"to", "template", "subject", "user_id"}
    return {**{k: v for k, v in payload.items() if k in keep}, "redacted": True}
