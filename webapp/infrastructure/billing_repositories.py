"""SQLAlchemy repositories of billing: subscriptions and stored webhook events."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from webapp.application.interfaces import UniqueConflict
from webapp.domain.billing import BillingEvent, Subscription
from webapp.infrastructure.orm import BillingEventRow, SubscriptionRow
from webapp.infrastructure.repositories import _Mapped


class SqlSubscriptionRepository(_Mapped[Subscription, SubscriptionRow]):
    entity, row = Subscription, SubscriptionRow

    def add(self, subscription: Subscription) -> None:
        try:
            self._insert(subscription)
        except IntegrityError as exc:  # the same subscription inserted at once by another event
            self.session.rollback()
            raise UniqueConflict(str(exc.orig)) from exc

    def save(self, subscription: Subscription) -> None:
        self._save(subscription)

    def get(self, stripe_id: str, *, lock: bool = False) -> Subscription | None:
        stmt = select(SubscriptionRow).where(SubscriptionRow.stripe_id == stripe_id)
        if lock:
            stmt = stmt.with_for_update()
        return self._one(stmt.execution_options(populate_existing=True))

    def for_user(self, user_id: int, customer_id: str | None) -> list[Subscription]:
        match = SubscriptionRow.user_id == user_id
        if customer_id:
            match = or_(match, SubscriptionRow.customer_id == customer_id)
        return self._all(select(SubscriptionRow).where(match).order_by(SubscriptionRow.id))

    def for_customer(self, customer_id: str) -> list[Subscription]:
        return self._all(select(SubscriptionRow)
                         .where(SubscriptionRow.customer_id == customer_id)
                         .order_by(SubscriptionRow.id))


class SqlBillingEventRepository(_Mapped[BillingEvent, BillingEventRow]):
    entity, row = BillingEvent, BillingEventRow

    def add(self, event: BillingEvent) -> None:
        self.session.add(self._copy(event, BillingEventRow()))
        try:
            self.session.flush()
        except IntegrityError as exc:  # the same event delivered twice at once
            self.session.rollback()
            raise UniqueConflict(str(exc.orig)) from exc

    def save(self, event: BillingEvent) -> None:
        self._save(event)

    def get(self, event_id: str, *, lock: bool = False) -> BillingEvent | None:
        stmt = select(BillingEventRow).where(BillingEventRow.id == event_id)
        if lock:
            stmt = stmt.with_for_update()
        return self._one(stmt.execution_options(populate_existing=True))
