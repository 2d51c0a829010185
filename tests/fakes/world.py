"""``make_world``: the services wired by ``wire_services`` over fakes, with handles."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.fakes.billing import FakeBilling, FakeWebhooks
from tests.fakes.messaging import FakeMailer, FakeRenderer, FakeSms
from tests.fakes.mfa import FakeAuthenticators, FakeSecretBox
from tests.fakes.passkeys import FakeWebAuthn
from tests.fakes.requests import FakeRateLimiter, FakeRequestContext
from tests.fakes.security import (
    FakeBreachedPasswords,
    FakeClock,
    FakeCodeHasher,
    FakePasswordHasher,
    FakeSigner,
    FakeTokenCodec,
)
from tests.fakes.storage import FakeSessionStore, FakeStaffQueries, FakeUnitOfWork, Store
from webapp.application.common import Ports
from webapp.application.policy import Policy
from webapp.application.services import Adapters, Services, wire_services
from webapp.application.signin import Door
from webapp.application.throttling import Throttle, ThrottlePolicy
from webapp.application.tokens import TokenPair
from webapp.domain.model import (
    OutboxMessage,
    User,
)


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
    ports: Ports
    limiter: FakeRateLimiter | None = None
    webhooks: FakeWebhooks = field(default_factory=FakeWebhooks)
    sessions: FakeSessionStore = field(default_factory=FakeSessionStore)

    def emails(self, to: str | None = None) -> list[OutboxMessage]:
        return [
            m
            for m in self.store.outbox.values()
            if m.kind == "email" and (to is None or m.payload["to"] == to)
        ]

    def texts(self, to: str | None = None) -> list[OutboxMessage]:
        return [
            m
            for m in self.store.outbox.values()
            if m.kind == "sms" and (to is None or m.payload["to"] == to)
        ]

    def field_of(self, message: OutboxMessage, key: str) -> str:
        """A value (code=, link=) from a FakeRenderer message."""
        body = message.payload.get("text") or message.payload.get("body", "")
        for line in body.splitlines():
            if line.startswith(f"{key}="):
                return line.split("=", 1)[1]
        raise KeyError(key)

    def user(self, email: str | None = None, phone: str | None = None) -> User:
        return next(
            u
            for u in self.store.users.values()
            if (email and u.email == email) or (phone and u.phone == phone)
        )

    def audit_kinds(self) -> list[str]:
        return [e.kind for e in self.store.audit]

    def login(self, email: str | None = None, phone: str | None = None, *,
              password: str) -> tuple[User, TokenPair]:
        """A sign-in through the API door of the pipeline: the user and its token pair."""
        signed_in = self.services.signin.with_password(email=email, phone=phone,
                                                       password=password, door=Door.API)
        assert signed_in.tokens is not None
        return signed_in.user, signed_in.tokens

    def sign_in_browser(self, email: str | None = None, phone: str | None = None, *,
                        password: str) -> User:
        """A sign-in through the browser door: no tokens (the door starts a session)."""
        return self.services.signin.with_password(email=email, phone=phone,
                                                  password=password, door=Door.BROWSER).user


def fake_device_label(user_agent: str) -> str:
    """What the real label does, on a fake's terms: one readable string per user agent."""
    return f"device of {user_agent}" if user_agent else "Unknown device"


def make_world(
    policy: Policy | None = None,
    throttle: ThrottlePolicy | None = None,
    breached: FakeBreachedPasswords | None = None,
) -> World:
    """``throttle``: turn the limits on (off by default, like RATELIMIT_ENABLED=false)."""
    store, uows = Store(), []
    clock = FakeClock()
    hasher = FakePasswordHasher()
    codec = FakeTokenCodec(clock)
    policy = policy or Policy()
    limiter = FakeRateLimiter(clock) if throttle is not None else None
    ports = Ports(
        uow=lambda: FakeUnitOfWork(store, uows),
        clock=clock,
        passwords=hasher,
        codes=FakeCodeHasher(),
        signer=FakeSigner(clock),
        renderer=FakeRenderer(),
        request=FakeRequestContext(),
        policy=policy,
        throttle=Throttle(limiter, throttle),
        breached=breached,
    )
    mailer, sms, billing, webhooks = FakeMailer(), FakeSms(), FakeBilling(), FakeWebhooks()
    sessions = FakeSessionStore()
    services = wire_services(
        ports,
        Adapters(
            codec=codec,
            mailer=mailer,
            sms=sms,
            billing=billing,
            webhooks=webhooks,
            staff_queries=FakeStaffQueries(store),
            authenticators=FakeAuthenticators(),
            secret_box=FakeSecretBox(),
            sessions=sessions,
            device_label=fake_device_label,
            webauthn=FakeWebAuthn(),
        ),
    )
    return World(
        store,
        uows,
        clock,
        hasher,
        codec,
        mailer,
        sms,
        billing,
        services,
        policy,
        ports,
        limiter,
        webhooks,
        sessions,
    )
