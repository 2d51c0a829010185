"""The staff pages' read side: user search, audit and delivery listings, dashboard numbers.

Search matches prefixes only, so that it always runs on an index:
- SQLite compares bytes, so a prefix is a range (``email >= 'ja' AND email < 'ja\\U0010ffff'``)
  on the plain or ``lower(...)`` expression index;
- PostgreSQL's collations do not order prefixes together, so it uses ``LIKE 'ja%'`` on
  ``text_pattern_ops`` indexes (declared in orm.py; ignored elsewhere).
No page counts the whole table: a page asks for one row more than it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from webapp.application.interfaces import FunnelDay, SearchTerms, UserFilter, UserPage
from webapp.domain.billing import LIVE
from webapp.domain.invitations import Invitation
from webapp.domain.model import AuditEvent, OutboxMessage, User
from webapp.infrastructure.orm import (
    AuditEventRow,
    InvitationRow,
    OutboxRow,
    SubscriptionRow,
    UserRow,
)
from webapp.infrastructure.outbox_repository import SqlOutboxRepository
from webapp.infrastructure.repositories import (
    SqlAuditRepository,
    SqlInvitationRepository,
    SqlUserRepository,
)

HIGHEST = "\U0010ffff"
SORTS = {
    "newest": (UserRow.id.desc(),),
    "oldest": (UserRow.id.asc(),),
    "email": (UserRow.email.asc(), UserRow.id.asc()),
}


def _has_subscription(statuses: frozenset[str] | set[str]) -> ColumnElement[bool]:
    """The user has a subscription in one of ``statuses`` (linked by user or by customer)."""
    return exists().where(
        or_(SubscriptionRow.user_id == UserRow.id,
            SubscriptionRow.customer_id == UserRow.stripe_customer_id),
        SubscriptionRow.status.in_(statuses))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlStaffQueries:
    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._session_factory = session_factory

    @property
    def session(self) -> Session:
        return self._session_factory()

    def _prefix(self, column: Any, prefix: str) -> ColumnElement[bool]:
        if self.session.get_bind().dialect.name == "postgresql":
            return column.like(_escape_like(prefix) + "%", escape="\\")
        return and_(column >= prefix, column < prefix + HIGHEST)

    # --- users ------------------------------------------------------------------------

    def _search(self, terms: SearchTerms) -> ColumnElement[bool] | None:
        first, last = func.lower(UserRow.first_name), func.lower(UserRow.last_name)
        options: list[ColumnElement[bool]] = []
        if terms.email_prefix:
            options.append(self._prefix(UserRow.email, terms.email_prefix))
        if terms.phone_prefix:
            options.append(self._prefix(UserRow.phone, terms.phone_prefix))
        if len(terms.name_prefixes) == 1:
            word = terms.name_prefixes[0]
            options += [self._prefix(first, word), self._prefix(last, word)]
        elif len(terms.name_prefixes) == 2:
            options.append(and_(self._prefix(first, terms.name_prefixes[0]),
                                self._prefix(last, terms.name_prefixes[1])))
        return or_(*options) if options else None

    def users(self, wanted: UserFilter) -> UserPage:
        stmt = select(UserRow)
        search = self._search(wanted.terms)
        if search is not None:
            stmt = stmt.where(search)
        verified = or_(UserRow.email_verified_at.is_not(None),
                       UserRow.phone_verified_at.is_not(None))
        if wanted.verified is not None:
            stmt = stmt.where(verified if wanted.verified else ~verified)
        if wanted.active is not None:
            stmt = stmt.where(UserRow.is_active.is_(wanted.active))
        if wanted.staff is not None:
            stmt = stmt.where(UserRow.is_staff.is_(wanted.staff))
        if wanted.customer is not None:
            column = UserRow.stripe_customer_id
            stmt = stmt.where(column.is_not(None) if wanted.customer else column.is_(None))
        if wanted.subscription == "live":
            stmt = stmt.where(_has_subscription(LIVE))
        elif wanted.subscription == "none":
            stmt = stmt.where(~_has_subscription(LIVE))
        elif wanted.subscription:
            stmt = stmt.where(_has_subscription({wanted.subscription}))
        page = max(1, wanted.page)
        stmt = (stmt.order_by(*SORTS.get(wanted.sort, SORTS["newest"]))
                .offset((page - 1) * wanted.limit).limit(wanted.limit + 1))
        users = SqlUserRepository(self.session)._all(stmt)
        return UserPage(users=users[: wanted.limit], page=page,
                        has_next=len(users) > wanted.limit)

    def users_by_id(self, ids: set[int]) -> dict[int, User]:
        return {user.id or 0: user for user in self._users_in(UserRow.id, ids)}

    def users_by_email(self, emails: set[str]) -> dict[str, User]:
        return {user.email or "": user for user in self._users_in(UserRow.email, emails)}

    def _users_in(self, column: Any, values: set[Any]) -> list[User]:
        if not values:
            return []
        return SqlUserRepository(self.session)._all(select(UserRow).where(column.in_(values)))

    def subscription_statuses(self, user_ids: set[int]) -> dict[int, str]:
        if not user_ids:
            return {}
        rows = self.session.execute(
            select(UserRow.id, SubscriptionRow.status)
            .join(SubscriptionRow, or_(SubscriptionRow.user_id == UserRow.id,
                                       SubscriptionRow.customer_id == UserRow.stripe_customer_id))
            .where(UserRow.id.in_(user_ids)).order_by(SubscriptionRow.state_at)).all()
        return {user_id: status for user_id, status in rows}  # the latest wins

    # --- audit, delivery, invitations -------------------------------------------------

    def audit(self, *, user_id: int | None, kind: str | None, before_id: int | None,
              limit: int) -> list[AuditEvent]:
        stmt = select(AuditEventRow)
        if user_id is not None:
            stmt = stmt.where(or_(AuditEventRow.user_id == user_id,
                                  AuditEventRow.actor_id == user_id))
        if kind:
            stmt = stmt.where(AuditEventRow.kind == kind)
        return SqlAuditRepository(self.session)._all(
            _newest_first(stmt, AuditEventRow.id, before_id, limit))

    def audit_kinds(self) -> list[str]:
        return list(self.session.scalars(
            select(AuditEventRow.kind).distinct().order_by(AuditEventRow.kind)))

    def outbox(self, *, statuses: tuple[str, ...], kind: str | None, before_id: int | None,
               limit: int, skip_kinds: tuple[str, ...] = ()) -> list[OutboxMessage]:
        stmt = select(OutboxRow).where(OutboxRow.status.in_(statuses))
        if kind:
            stmt = stmt.where(OutboxRow.kind == kind)
        if skip_kinds:
            stmt = stmt.where(OutboxRow.kind.not_in(skip_kinds))
        return SqlOutboxRepository(self.session)._all(
            _newest_first(stmt, OutboxRow.id, before_id, limit))

    def invitations(self, *, pending_at: datetime | None, limit: int) -> list[Invitation]:
        stmt = select(InvitationRow)
        if pending_at is not None:
            stmt = stmt.where(InvitationRow.accepted_at.is_(None),
                              InvitationRow.revoked_at.is_(None),
                              InvitationRow.expires_at > pending_at)
        stmt = stmt.order_by(InvitationRow.id.desc()).limit(limit)
        return SqlInvitationRepository(self.session)._all(stmt)

    # --- dashboard --------------------------------------------------------------------

    def counts(self, since: datetime, skip_kinds: tuple[str, ...] = ()) -> dict[str, int]:
        verified = or_(UserRow.email_verified_at.is_not(None),
                       UserRow.phone_verified_at.is_not(None))
        users = self.session.execute(select(
            func.count(),
            func.count(case((verified, 1))),
            func.count(case((UserRow.is_staff.is_(True), 1))),
            func.count(case((UserRow.is_active.is_(False), 1))),
            func.count(UserRow.stripe_customer_id),
            func.count(case((UserRow.created_at >= since, 1))),
        )).one()
        # From the (much smaller) subscriptions table, not a probe per account.
        subscribed = self.session.scalar(
            select(func.count(func.distinct(UserRow.id)))
            .select_from(SubscriptionRow)
            .join(UserRow, or_(UserRow.id == SubscriptionRow.user_id,
                               UserRow.stripe_customer_id == SubscriptionRow.customer_id))
            .where(SubscriptionRow.status.in_(LIVE))) or 0
        outbox = dict(self.session.execute(
            select(OutboxRow.status, func.count()).where(OutboxRow.status != "sent")
            .where(OutboxRow.kind.not_in(skip_kinds)).group_by(OutboxRow.status)).all())
        invitations = self.session.scalar(select(func.count()).select_from(InvitationRow).where(
            InvitationRow.accepted_at.is_(None), InvitationRow.revoked_at.is_(None),
            InvitationRow.expires_at > since)) or 0
        names = ("users", "verified", "staff", "deactivated", "customers", "signups_30d")
        return {**dict(zip(names, (int(v or 0) for v in users), strict=True)),
                "subscribed": int(subscribed),
                "outbox_pending": int(outbox.get("pending", 0)),
                "outbox_failed": int(outbox.get("failed", 0)),
                "invitations_open": int(invitations)}

    def funnel(self, since: datetime) -> list[FunnelDay]:
        if self.session.get_bind().dialect.name == "postgresql":
            day = func.date(func.timezone("UTC", UserRow.created_at))
        else:
            day = func.date(UserRow.created_at)
        verified = or_(UserRow.email_verified_at.is_not(None),
                       UserRow.phone_verified_at.is_not(None))
        rows = self.session.execute(
            select(day.label("day"), func.count(), func.count(case((verified, 1))),
                   func.count(UserRow.stripe_customer_id),
                   func.count(case((_has_subscription(LIVE), 1))))
            .where(UserRow.created_at >= since).group_by(day).order_by(day)).all()
        return [FunnelDay(day=_as_date(d), signups=s, verified=v, customers=c, subscribed=p)
                for d, s, v, c, p in rows]


def _newest_first(stmt: Any, id_column: Any, before_id: int | None, limit: int) -> Any:
    """Keyset pages of an append-only table: ``before`` is the last id of the previous page."""
    if before_id is not None:
        stmt = stmt.where(id_column < before_id)
    return stmt.order_by(id_column.desc()).limit(limit)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
