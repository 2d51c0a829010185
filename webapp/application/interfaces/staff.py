"""The staff pages' read side: lists, counts and the sign-up funnel, with the filters
they take. Infrastructure answers them with indexed SQL (admin_queries.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from webapp.domain.invitations import Invitation
from webapp.domain.model import AuditEvent, OutboxMessage, User

PAGE_SIZE = 50


@dataclass(frozen=True)
class SearchTerms:
    """What ``?q=`` means, decided here once: prefixes on indexed columns only."""

    email_prefix: str = ""
    phone_prefix: str = ""
    name_prefixes: tuple[str, ...] = ()  # one word: first or last name; two: first and last

    @property
    def empty(self) -> bool:
        return not (self.email_prefix or self.phone_prefix or self.name_prefixes)


@dataclass(frozen=True)
class UserFilter:
    terms: SearchTerms = field(default_factory=SearchTerms)
    verified: bool | None = None
    active: bool | None = None
    staff: bool | None = None
    customer: bool | None = None
    subscription: str | None = None  # "live", "none", or one Stripe status ("past_due")
    sort: str = "newest"  # newest | oldest | email
    page: int = 1
    limit: int = PAGE_SIZE


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    page: int
    has_next: bool


@dataclass(frozen=True)
class FunnelDay:
    day: date
    signups: int
    verified: int
    customers: int
    subscribed: int | None  # None until billing records subscriptions


class StaffQueries(Protocol):
    def users(self, wanted: UserFilter) -> UserPage: ...

    def audit(
        self, *, user_id: int | None, kind: str | None, before_id: int | None, limit: int
    ) -> list[AuditEvent]: ...

    def audit_kinds(self) -> list[str]: ...

    def outbox(
        self, *, statuses: tuple[str, ...], kind: str | None, before_id: int | None, limit: int,
        skip_kinds: tuple[str, ...] = (),
    ) -> list[OutboxMessage]: ...

    def invitations(self, *, pending_at: datetime | None, limit: int) -> list[Invitation]: ...

    def counts(self, since: datetime, skip_kinds: tuple[str, ...] = ()) -> dict[str, int]:
        """users, staff, outbox_pending, ... (without messages of ``skip_kinds``)."""
        ...

    def funnel(self, since: datetime) -> list[FunnelDay]:
        """Per signup day since ``since``: signups, then how many verified, customers, paid."""
        ...

    def users_by_id(self, ids: set[int]) -> dict[int, User]: ...

    def users_by_email(self, emails: set[str]) -> dict[str, User]: ...

    def subscription_statuses(self, user_ids: set[int]) -> dict[int, str]:
        """Each listed user's most recent subscription status (users without one: absent)."""
        ...
