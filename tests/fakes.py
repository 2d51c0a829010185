"""In-memory fakes of every port, for fast service tests without Flask or a database.

Fakes, not mocks (cosmicpython): they behave like the real thing, so tests
assert outcomes (``uow.committed``, messages in the outbox) rather than calls.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from webapp.application.common import Toolkit
from webapp.application.interfaces import RenderedMessage, RequestInfo, UniqueConflict
from webapp.application.policy import Policy
from webapp.application.services import Services
from webapp.application.throttling import Throttle, ThrottlePolicy
from webapp.domain.billing import BillingEvent, InvalidSignature, Plan, Subscription
from webapp.domain.errors import InvalidToken
from webapp.domain.model import (
    AuditEvent,
    CodePurpose,
    Invitation,
    MessageStatus,
    OneTimeCode,
    OutboxMessage,
    RefreshFamily,
    User,
)


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


class FakePasswordHasher:
    """Reversible on purpose: tests can see what was hashed. Counts work for timing tests."""

    def __init__(self, version: str = "v1") -> None:
        self.version = version
        self.verifications = 0
        self.hashes = 0

    def hash(self, password: str) -> str:
        self.hashes += 1
        return f"fake${self.version}${password}"

    def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        return password_hash.split("$", 2)[-1] == password

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"fake${self.version}$")

    def dummy_verify(self, password: str) -> None:
        self.verifications += 1


class RacingPasswords:
    """Wraps a PasswordHasher: ``race`` runs once, during the first password check, as if
    another request changed the account between a login's read and its write."""

    def __init__(self, inner: Any, race: Callable[[], None]) -> None:
        self.inner = inner
        self.race: Callable[[], None] | None = race

    def verify(self, password_hash: str, password: str) -> bool:
        race, self.race = self.race, None
        if race is not None:
            race()
        return bool(self.inner.verify(password_hash, password))

    def __getattr__(self, name: str) -> Any:  # hash, needs_rehash, dummy_verify
        return getattr(self.inner, name)


class FakeCodeHasher:
    def hash(self, code: str) -> str:
        return hashlib.sha256(b"k" + code.encode()).hexdigest()

    def matches(self, code: str, code_hash: str) -> bool:
        return hmac.compare_digest(self.hash(code), code_hash)


class FakeSigner:
    """Tokens are JSON with the purpose and issue time; the clock decides expiry."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def dumps(self, purpose: str, payload: dict[str, Any]) -> str:
        return json.dumps({"p": purpose, "t": self.clock.now().timestamp(), "d": payload})

    def loads(self, purpose: str, token: str, max_age: int) -> dict[str, Any]:
        try:
            data = json.loads(token)
        except ValueError as exc:
            raise InvalidToken() from exc
        if not isinstance(data, dict) or data.get("p") != purpose:
            raise InvalidToken()
        if self.clock.now().timestamp() - data["t"] > max_age:
            raise InvalidToken("expired", code="token_expired")
        return data["d"]


class FakeTokenCodec:
    """Opaque handles to stored claims; expiry checked against the clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.issued: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def encode(self, claims: dict[str, Any]) -> str:
        token = f"jwt-{next(self._ids)}"
        self.issued[token] = dict(claims)
        return token

    def decode(self, token: str) -> dict[str, Any]:
        claims = self.issued.get(token)
        if claims is None:
            raise InvalidToken()
        if self.clock.now() >= claims["exp"]:
            raise InvalidToken("expired", code="token_expired")
        return dict(claims)


class FakeRenderer:
    """Subject = template name; text = the context as ``key=value`` lines (codes, links)."""

    def render(self, template: str, context: dict[str, Any]) -> RenderedMessage:
        lines = [f"{k}={v}" for k, v in sorted(context.items()) if k not in ("user",)]
        return RenderedMessage(subject=template, text="\n".join(lines), html="")


class FakeRequestContext:
    def __init__(self) -> None:
        self.info = RequestInfo(ip="192.0.2.1", user_agent="pytest", request_id="req-1")

    def current(self) -> RequestInfo:
        return self.info


class FakeMailer:
    """``fail_times`` makes the next sends fail; ``before_send`` runs first (a slow gateway)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []
        self.fail_times = 0
        self.before_send: Callable[[], None] | None = None

    def send(self, to: str, subject: str, text: str, html: str, message_id: str) -> None:
        if self.before_send is not None:
            hook, self.before_send = self.before_send, None
            hook()
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionRefusedError("smtp down")
        self.sent.append({"to": to, "subject": subject, "text": text, "id": message_id})


class FakeSms:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []
        self.fail_times = 0

    def send(self, to: str, body: str, message_id: str) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise TimeoutError("sms gateway timed out")
        self.sent.append({"to": to, "body": body, "id": message_id})


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

    def find_customer(self, user_id: int, email: str | None = None) -> str | None:
        return next((cid for cid, c in self.customers.items()
                     if c["metadata"]["user_id"] == str(user_id)), None)

    def create_customer(self, *, user_id: int, email: str | None, phone: str | None,
                        name: str, idempotency_key: str) -> str:
        if self.fail_times:
            self.fail_times -= 1
            raise TimeoutError("stripe timed out")
        cid = f"cus_{len(self.customers) + 1}"
        self.customers[cid] = {"email": email, "phone": phone, "name": name,
                               "metadata": {"user_id": str(user_id)}, "key": idempotency_key}
        if self.die_after_create:
            self.die_after_create -= 1
            raise ConnectionResetError("worker killed after Stripe answered")
        return cid

    def list_plans(self) -> list[Plan]:
        self.plan_calls += 1
        if self.fail_times:
            self.fail_times -= 1
            raise TimeoutError("stripe timed out")
        return list(self.plans)

    def checkout_url(self, **params: Any) -> str:
        self.sessions.append(params)
        return f"https://checkout.stripe.test/c/cs_{len(self.sessions)}"

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


class FakeRateLimiter:
    """The RateLimiter port on the fake clock: moving windows and expiring counters."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.events: dict[str, list[float]] = {}
        self.marks: dict[str, tuple[int, float]] = {}

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _windows(self, limit: str, key: str) -> list[tuple[str, int, int]]:
        from limits import parse_many

        return [(f"{key}/{item.amount}/{item.get_expiry()}", item.amount, item.get_expiry())
                for item in parse_many(limit)]

    def _wait(self, name: str, amount: int, window: int) -> int:
        live = [t for t in self.events.get(name, []) if t > self._now() - window]
        self.events[name] = live
        return 0 if len(live) < amount else max(1, int(live[-amount] + window - self._now()))

    def hit(self, limit: str, key: str) -> int:
        waits = []
        for name, amount, window in self._windows(limit, key):
            wait = self._wait(name, amount, window)
            if wait:
                waits.append(wait)
            else:
                self.events[name].append(self._now())
        return max(waits, default=0)

    def peek(self, limit: str, key: str) -> int:
        return max((self._wait(*w) for w in self._windows(limit, key)), default=0)

    def reset(self, limit: str, key: str) -> None:
        for name, _, _ in self._windows(limit, key):
            self.events.pop(name, None)

    def _mark(self, key: str) -> tuple[int, float]:
        value, until = self.marks.get(key, (0, 0.0))
        return (value, until) if until > self._now() else (0, 0.0)

    def count(self, key: str, ttl: int) -> int:
        value, until = self._mark(key)
        self.marks[key] = (value + 1, until or self._now() + ttl)
        return value + 1

    def hold(self, key: str, seconds: int) -> None:
        self.marks[key] = (1, self._now() + seconds)

    def held_for(self, key: str) -> int:
        value, until = self._mark(key)
        return max(1, int(until - self._now())) if value else 0

    def drop(self, key: str) -> None:
        self.marks.pop(key, None)


class FakeBreachedPasswords:
    def __init__(self, *breached: str) -> None:
        self.breached = set(breached)
        self.asked: list[str] = []

    def is_breached(self, password: str) -> bool:
        self.asked.append(password)
        return password in self.breached


# --- repositories and unit of work ---------------------------------------------------


@dataclass
class Store:
    """The 'database': committed state shared by every unit of work of one test."""

    users: dict[int, User] = field(default_factory=dict)
    codes: dict[int, OneTimeCode] = field(default_factory=dict)
    families: dict[str, RefreshFamily] = field(default_factory=dict)
    outbox: dict[int, OutboxMessage] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    invitations: dict[int, Invitation] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    billing_events: dict[str, BillingEvent] = field(default_factory=dict)
    ids: Any = field(default_factory=lambda: itertools.count(1))


class _Repo:
    def __init__(self, state: Store) -> None:
        self.state = state

    def _next_id(self) -> int:
        return next(self.state.ids)


class FakeUserRepository(_Repo):
    UNIQUE = ("email", "phone", "stripe_customer_id")  # the unique columns of users

    def _check_unique(self, user: User) -> None:
        for other in self.state.users.values():
            if other.id != user.id and any(
                    getattr(user, name) and getattr(other, name) == getattr(user, name)
                    for name in self.UNIQUE):
                raise UniqueConflict("users")

    def add(self, user: User) -> User:
        self._check_unique(user)
        user.id = self._next_id()
        self.state.users[user.id] = copy.deepcopy(user)
        return user

    def get(self, user_id: int, *, lock: bool = False) -> User | None:
        return copy.deepcopy(self.state.users.get(user_id))

    def get_by_email(self, email: str, *, lock: bool = False) -> User | None:
        return next((copy.deepcopy(u) for u in self.state.users.values() if u.email == email),
                    None)

    def get_by_phone(self, phone: str, *, lock: bool = False) -> User | None:
        return next((copy.deepcopy(u) for u in self.state.users.values() if u.phone == phone),
                    None)

    def get_by_customer(self, customer_id: str, *, lock: bool = False) -> User | None:
        return next((copy.deepcopy(u) for u in self.state.users.values()
                     if u.stripe_customer_id == customer_id), None)

    def save(self, user: User) -> None:
        self._check_unique(user)
        self.state.users[user.id or 0] = copy.deepcopy(user)


class FakeCodeRepository(_Repo):
    def add(self, code: OneTimeCode) -> None:
        code.id = self._next_id()
        self.state.codes[code.id] = copy.deepcopy(code)

    def latest(self, user_id: int, purposes: Sequence[CodePurpose]) -> OneTimeCode | None:
        mine = [c for c in self.state.codes.values()
                if c.user_id == user_id and c.purpose in purposes]
        return copy.deepcopy(max(mine, key=lambda c: c.id or 0)) if mine else None

    def save(self, code: OneTimeCode) -> None:
        self.state.codes[code.id or 0] = copy.deepcopy(code)


class FakeRefreshFamilyRepository(_Repo):
    def add(self, family: RefreshFamily) -> None:
        self.state.families[family.id] = copy.deepcopy(family)

    def get(self, family_id: str) -> RefreshFamily | None:
        return copy.deepcopy(self.state.families.get(family_id))

    def rotate(self, family_id: str, from_generation: int, now: datetime) -> bool:
        family = self.state.families.get(family_id)
        if family is None or family.generation != from_generation or family.revoked_at:
            return False
        family.generation += 1
        family.rotated_at = now
        return True

    def revoke(self, family_id: str, now: datetime, reason: str) -> None:
        family = self.state.families.get(family_id)
        if family is not None and family.revoked_at is None:
            family.revoked_at, family.revoke_reason = now, reason

    def revoke_all(self, user_id: int, now: datetime, reason: str) -> int:
        live = [f for f in self.state.families.values()
                if f.user_id == user_id and f.revoked_at is None]
        for family in live:
            family.revoked_at, family.revoke_reason = now, reason
        return len(live)

    def active_for_user(self, user_id: int) -> list[RefreshFamily]:
        return [copy.deepcopy(f) for f in self.state.families.values()
                if f.user_id == user_id and f.revoked_at is None]


class FakeOutboxRepository(_Repo):
    def add(self, message: OutboxMessage) -> None:
        if message.idempotency_key and any(
                m.idempotency_key == message.idempotency_key for m in self.state.outbox.values()):
            raise UniqueConflict("outbox")
        message.id = self._next_id()
        self.state.outbox[message.id] = copy.deepcopy(message)

    def get(self, message_id: int) -> OutboxMessage | None:
        return copy.deepcopy(self.state.outbox.get(message_id))

    def claim_due(self, now: datetime, lease_until: datetime, worker: str, limit: int
                  ) -> list[OutboxMessage]:
        due = [m for m in sorted(self.state.outbox.values(),
                                 key=lambda m: (m.next_attempt_at, m.id or 0))
               if m.status == MessageStatus.PENDING and m.next_attempt_at <= now
               and (m.locked_until is None or m.locked_until < now)][:limit]
        for message in due:
            message.locked_until, message.locked_by = lease_until, worker
        return [copy.deepcopy(m) for m in due]

    def save(self, message: OutboxMessage) -> None:
        self.state.outbox[message.id or 0] = copy.deepcopy(message)

    def for_user(self, user_id: int, limit: int = 50) -> list[OutboxMessage]:
        return [copy.deepcopy(m) for m in self.state.outbox.values() if m.user_id == user_id]

    def recent(self, kinds: Sequence[str], limit: int = 50) -> list[OutboxMessage]:
        newest = sorted(self.state.outbox.values(), key=lambda m: m.id or 0, reverse=True)
        return [copy.deepcopy(m) for m in newest if m.kind in kinds][:limit]


class FakeAuditRepository(_Repo):
    def add(self, event: AuditEvent) -> None:
        event.id = self._next_id()
        self.state.audit.append(copy.deepcopy(event))

    def for_user(self, user_id: int, limit: int = 50) -> list[AuditEvent]:
        return [e for e in self.state.audit if e.user_id == user_id][-limit:]


class FakeInvitationRepository(_Repo):
    def add(self, invitation: Invitation) -> None:
        invitation.id = self._next_id()
        self.state.invitations[invitation.id] = copy.deepcopy(invitation)

    def get(self, invitation_id: int) -> Invitation | None:
        return copy.deepcopy(self.state.invitations.get(invitation_id))

    def save(self, invitation: Invitation) -> None:
        self.state.invitations[invitation.id or 0] = copy.deepcopy(invitation)


class FakeSubscriptionRepository(_Repo):
    def add(self, subscription: Subscription) -> None:
        if subscription.stripe_id in self.state.subscriptions:
            raise UniqueConflict("subscriptions")
        subscription.id = self._next_id()
        self.state.subscriptions[subscription.stripe_id] = copy.deepcopy(subscription)

    def get(self, stripe_id: str, *, lock: bool = False) -> Subscription | None:
        return copy.deepcopy(self.state.subscriptions.get(stripe_id))

    def save(self, subscription: Subscription) -> None:
        self.state.subscriptions[subscription.stripe_id] = copy.deepcopy(subscription)

    def for_user(self, user_id: int, customer_id: str | None) -> list[Subscription]:
        return [copy.deepcopy(s) for s in self.state.subscriptions.values()
                if s.user_id == user_id or (customer_id and s.customer_id == customer_id)]

    def for_customer(self, customer_id: str) -> list[Subscription]:
        return [copy.deepcopy(s) for s in self.state.subscriptions.values()
                if s.customer_id == customer_id]


class FakeBillingEventRepository(_Repo):
    def add(self, event: BillingEvent) -> None:
        if event.id in self.state.billing_events:
            raise UniqueConflict("billing_events")
        self.state.billing_events[event.id] = copy.deepcopy(event)

    def get(self, event_id: str, *, lock: bool = False) -> BillingEvent | None:
        return copy.deepcopy(self.state.billing_events.get(event_id))

    def save(self, event: BillingEvent) -> None:
        self.state.billing_events[event.id] = copy.deepcopy(event)


class FakeUnitOfWork:
    """Works on a copy of the store; ``commit`` publishes it, leaving without commit drops it."""

    def __init__(self, store: Store, log: list[FakeUnitOfWork]) -> None:
        self.store = store
        self.committed = False
        log.append(self)

    def __enter__(self) -> FakeUnitOfWork:
        self._begin()
        return self

    def _begin(self) -> None:
        self.working = copy.deepcopy(self.store)
        self.working.ids = self.store.ids
        self.users = FakeUserRepository(self.working)
        self.codes = FakeCodeRepository(self.working)
        self.families = FakeRefreshFamilyRepository(self.working)
        self.outbox = FakeOutboxRepository(self.working)
        self.audit = FakeAuditRepository(self.working)
        self.invitations = FakeInvitationRepository(self.working)
        self.subscriptions = FakeSubscriptionRepository(self.working)
        self.billing_events = FakeBillingEventRepository(self.working)

    def __exit__(self, *exc: object) -> None:
        self.rollback()

    def commit(self) -> None:
        for name in ("users", "codes", "families", "outbox", "audit", "invitations",
                     "subscriptions", "billing_events"):
            setattr(self.store, name, copy.deepcopy(getattr(self.working, name)))
        self.committed = True
        self._begin()

    def rollback(self) -> None:
        self._begin()

    def ping(self) -> None:
        return None


class FakeStaffQueries:
    """The staff read side over the committed store (only what service tests read)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def audit(self, *, user_id: int | None, kind: str | None, before_id: int | None,
              limit: int) -> list[AuditEvent]:
        events = [e for e in reversed(self.store.audit)
                  if (user_id is None or user_id in (e.user_id, e.actor_id))
                  and (kind is None or e.kind == kind)
                  and (before_id is None or (e.id or 0) < before_id)]
        return copy.deepcopy(events[:limit])


@dataclass
class World:
    """Everything a service test needs, with handles on each fake."""

    store: Store
    uows: list[FakeUnitOfWork]
    clock: FakeClock
    hasher: FakePasswordHasher
    codec: FakeTokenCodec
    mailer: FakeMailer
    sms: FakeSms
    billing: FakeBilling
    services: Services
    policy: Policy
    limiter: FakeRateLimiter | None = None
    webhooks: FakeWebhooks = field(default_factory=FakeWebhooks)

    def emails(self, to: str | None = None) -> list[OutboxMessage]:
        return [m for m in self.store.outbox.values()
                if m.kind == "email" and (to is None or m.payload["to"] == to)]

    def texts(self, to: str | None = None) -> list[OutboxMessage]:
        return [m for m in self.store.outbox.values()
                if m.kind == "sms" and (to is None or m.payload["to"] == to)]

    def field_of(self, message: OutboxMessage, key: str) -> str:
        """A value (code=, link=) from a FakeRenderer message."""
        body = message.payload.get("text") or message.payload.get("body", "")
        for line in body.splitlines():
            if line.startswith(f"{key}="):
                return line.split("=", 1)[1]
        raise KeyError(key)

    def user(self, email: str | None = None, phone: str | None = None) -> User:
        return next(u for u in self.store.users.values()
                    if (email and u.email == email) or (phone and u.phone == phone))

    def audit_kinds(self) -> list[str]:
        return [e.kind for e in self.store.audit]


def make_world(policy: Policy | None = None, throttle: ThrottlePolicy | None = None,
               breached: FakeBreachedPasswords | None = None) -> World:
    """``throttle``: turn the limits on (off by default, like RATELIMIT_ENABLED=false)."""
    from webapp.application.accounts import AccountService
    from webapp.application.admin import AdminService
    from webapp.application.billing import BillingService
    from webapp.application.delivery import DeliveryService
    from webapp.application.invitations import InvitationService
    from webapp.application.password_reset import PasswordResetService
    from webapp.application.tokens import TokenService
    from webapp.application.verification import VerificationService

    store, uows = Store(), []
    clock = FakeClock()
    hasher = FakePasswordHasher()
    codec = FakeTokenCodec(clock)
    policy = policy or Policy()
    limiter = FakeRateLimiter(clock) if throttle is not None else None
    kit = Toolkit(uow=lambda: FakeUnitOfWork(store, uows), clock=clock, passwords=hasher,
                  codes=FakeCodeHasher(), signer=FakeSigner(clock), renderer=FakeRenderer(),
                  request=FakeRequestContext(), policy=policy,
                  throttle=Throttle(limiter, throttle), breached=breached)
    mailer, sms, billing = FakeMailer(), FakeSms(), FakeBilling()
    tokens = TokenService(kit, codec)
    verification = VerificationService(kit)
    webhooks = FakeWebhooks()
    resets = PasswordResetService(kit, tokens, verification)
    services = Services(
        kit=kit, accounts=AccountService(kit, verification, tokens, resets),
        verification=verification, tokens=tokens, resets=resets,
        delivery=DeliveryService(kit, mailer, sms, billing),
        billing=BillingService(kit, billing, webhooks),
        invitations=InvitationService(kit, verification, tokens),
        admin=AdminService(kit, verification, resets, tokens, FakeStaffQueries(store)),
    )
    return World(store, uows, clock, hasher, codec, mailer, sms, billing, services, policy,
                 limiter, webhooks)
