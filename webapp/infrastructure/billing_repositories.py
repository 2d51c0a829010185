"""SQLAlchemy repositories of billing: subscriptions and stored webhook events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from webapp.application.interfaces import UniqueConflict
from webapp.domain.billing import BillingEvent, Subscription
from webapp.infrastructure.orm import BillingEventRow, SubscriptionRow
from webapp.infrastructure.repositories import E, R, _Mapped


class _Billing(_Mapped[E, R]):
    def _add(self, entity: E, row: R) -> None:
        """Insert now; a concurrent insert of the same Stripe id is a UniqueConflict."""
        self.session.add(self._copy(entity, row))
        try:
            self.session.flush()
        except IntegrityError as exc:
            self.session.rollback()
            raise UniqueConflict(str(exc.orig)) from exc
        entity.id = row.id  # type: ignore[attr-defined]

    def _fresh(self, condition: Any, lock: bool) -> E | None:
        stmt = select(self.row).where(condition)
        if lock:
            stmt = stmt.with_for_update()
        return self._one(stmt.execution_options(populate_existing=True))


class SqlSubscriptionRepository(_Billing[Subscription, SubscriptionRow]):
    entity, row = Subscription, SubscriptionRow

    def add(self, subscription: Subscription) -> None:
        self._add(subscription, SubscriptionRow())

    def save(self, subscription: Subscription) -> None:
        self._save(subscription)

    def get(self, stripe_id: str, *, lock: bool = False) -> Subscription | None:
        return self._fresh(SubscriptionRow.stripe_id == stripe_id, lock)

    def for_user(self, user_id: int, customer_id: str | None) -> list[Subscription]:
        match = SubscriptionRow.user_id == user_id
        if customer_id:
            match = or_(match, SubscriptionRow.customer_id == customer_id)
        return self._all(select(SubscriptionRow).where(match).order_by(SubscriptionRow.id))

    def for_customer(self, customer_id: str) -> list[Subscription]:
        return self._all(select(SubscriptionRow)
                         .where(SubscriptionRow.customer_id == customer_id)
                         .order_by(SubscriptionRow.id))


class SqlBillingEventRepository(_Billing[BillingEvent, BillingEventRow]):
    entity, row = BillingEvent, BillingEventRow

    def add(self, event: BillingEvent) -> None:
        self._add(event, BillingEventRow())

    def save(self, event: BillingEvent) -> None:
        self._save(event)

    def get(self, event_id: str, *, lock: bool = False) -> BillingEvent | None:
        return self._fresh(BillingEventRow.id == event_id, lock)
