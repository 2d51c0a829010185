"""Builds the Services bundle from settings: the one place that knows concrete adapters
(the graph itself is wired by ``webapp.application.services.wire_services``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy.engine import make_url

from webapp.application.billing import BillingSettings
from webapp.application.common import Ports
from webapp.application.interfaces import (
    BillingGateway,
    BreachedPasswords,
    LoginStore,
    Mailer,
    ReadOnlyUnitOfWorkFactory,
    SessionStore,
    SmsSender,
)
from webapp.application.policy import Policy
from webapp.application.services import Adapters, Services, wire_services
from webapp.application.throttling import Throttle, ThrottlePolicy, parse_lockout
from webapp.config import Settings
from webapp.extensions import db
from webapp.infrastructure.admin_queries import SqlStaffQueries
from webapp.infrastructure.billing import DisabledBilling, StripeGateway, StripeWebhooks
from webapp.infrastructure.devices import device_label
from webapp.infrastructure.dispatch import InlineDispatcher
from webapp.infrastructure.messaging import (
    ConsoleMailer,
    ConsoleSms,
    HttpSms,
    JinjaRenderer,
    SmtpMailer,
    TwilioSms,
)
from webapp.infrastructure.request_context import FlaskRequestContext
from webapp.infrastructure.second_factor import FernetSecretBox, PyOtpAuthenticators
from webapp.infrastructure.security import (
    Argon2Hasher,
    HmacCodeHasher,
    ItsDangerousSigner,
    PyJwtCodec,
    SystemClock,
)
from webapp.infrastructure.session_store import RedisSessionStore, SqlSessionStore
from webapp.infrastructure.uow import SqlAlchemyUnitOfWork
from webapp.infrastructure.user_cache import CachedReader, UserCache
from webapp.infrastructure.user_feed import PostgresUserFeed
from webapp.infrastructure.webauthn import PyWebAuthn, origin_of

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def policy_from(settings: Settings) -> Policy:
    lease = timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    return Policy(
        base_url=settings.APP_BASE_URL, site_name=settings.SITE_NAME,
        default_region=settings.PHONE_DEFAULT_REGION or None,
        registration_open=settings.REGISTRATION == "open",
        invitations_by_users=settings.INVITATIONS_BY_USERS,
        reauth_max_age=timedelta(seconds=settings.REAUTH_MAX_AGE),
        mfa_required_for_staff=settings.MFA_REQUIRED_FOR_STAFF,
        account_deletion_grace=timedelta(seconds=settings.ACCOUNT_DELETION_GRACE),
        billing_enabled=bool(settings.STRIPE_SECRET_KEY),
        access_ttl=timedelta(seconds=settings.JWT_ACCESS_TTL),
        refresh_ttl=timedelta(seconds=settings.JWT_REFRESH_TTL),
        issuer=settings.JWT_ISSUER,
        delivery_backoff=timedelta(seconds=settings.DELIVERY_BACKOFF_SECONDS),
        resend_cooldown=timedelta(seconds=settings.RESEND_COOLDOWN),
        delivery_lease=lease,
        # A send starts only while this much of the lease is left (see DeliveryService).
        delivery_send_budget=min(timedelta(seconds=30), lease / 2),
    )


def mailer_from(settings: Settings) -> Mailer:
    if settings.MAIL_SERVER:
        return SmtpMailer(settings.MAIL_DEFAULT_SENDER)
    return ConsoleMailer(readable=settings.is_development)


def sms_from(settings: Settings) -> SmsSender:
    if settings.SMS_BACKEND == "http":
        return HttpSms(settings.SMS_HTTP_URL, settings.SMS_HTTP_TOKEN or None)
    if settings.SMS_BACKEND == "twilio":
        return TwilioSms(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN,
                         settings.TWILIO_FROM)
    return ConsoleSms(readable=settings.is_development)


def billing_from(settings: Settings) -> BillingGateway:
    if not settings.STRIPE_SECRET_KEY:
        return DisabledBilling()
    return StripeGateway(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE or None)


def throttle_from(settings: Settings, counters: tuple | None = None) -> Throttle:
    """The database's counters, shared by every worker with or without Redis (memory only
    for an in-memory database), or no limits at all when disabled."""
    policy = ThrottlePolicy(limits=settings.RATELIMITS,
                            lockout=parse_lockout(settings.LOCKOUT_STEPS))
    if not settings.RATELIMIT_ENABLED:
        return Throttle(None, policy)
    # Imported here: the limits library (~2 MiB with its dependencies) only when enabled.
    from limits.storage import MemoryStorage

    from webapp.infrastructure.shared_limits import DatabaseStorage
    from webapp.infrastructure.throttle import LimitsRateLimiter

    if counters is None:
        return Throttle(LimitsRateLimiter(MemoryStorage()), policy)
    return Throttle(LimitsRateLimiter(DatabaseStorage(engine=counters[0])), policy)


def breached_from(settings: Settings) -> BreachedPasswords | None:
    if not settings.PWNED_PASSWORDS_URL:
        return None
    # Imported here: it brings requests (~6 MiB), which an app server without it never needs.
    from webapp.infrastructure.pwned import PwnedPasswords

    return PwnedPasswords(settings.PWNED_PASSWORDS_URL, settings.PWNED_PASSWORDS_TIMEOUT)


def billing_settings_from(settings: Settings) -> BillingSettings:
    prices = tuple(p.strip() for p in settings.STRIPE_PRICES.split(",") if p.strip())
    return BillingSettings(prices=prices, plans_ttl=timedelta(seconds=settings.STRIPE_PLANS_TTL))


def reader_from(settings: Settings) -> ReadOnlyUnitOfWorkFactory | None:
    """PostgreSQL: token and session checks read without a transaction (one round trip),
    and, with the user cache, usually not at all (evicted by LISTEN/NOTIFY). SQLite: the
    same cache, evicted by PRAGMA data_version, over reads that take no write lock."""
    if settings.DATABASE_URL.startswith("sqlite"):
        return sqlite_reader_from(settings)
    if not settings.DATABASE_URL.startswith("postgresql"):
        return None
    # Imported here, as logins_from's: their queries are compiled for psycopg at import,
    # which loads SQLAlchemy's PostgreSQL dialect (~2 MiB), that SQLite servers never use.
    from webapp.infrastructure.readers import SqlReadOnlyUnitOfWork

    def read() -> SqlReadOnlyUnitOfWork:
        return SqlReadOnlyUnitOfWork(lambda: db.engine)

    if not settings.USER_CACHE_SIZE:
        return read
    cache = UserCache(PostgresUserFeed(lambda: db.engine), size=settings.USER_CACHE_SIZE,
                      max_age=settings.USER_CACHE_MAX_AGE, idle_drain=10.0)
    return CachedReader(cache, read)


def sessions_from(settings: Settings) -> SessionStore:
    """Browser sessions: in Redis when REDIS_URL is set (shared by every app server, no
    database work on page views), else in the database's ``browser_sessions`` table."""
    if settings.REDIS_URL:
        import redis

        return RedisSessionStore(redis.Redis.from_url(settings.REDIS_URL))
    return SqlSessionStore(lambda: db.session)
def sqlite_reader_from(settings: Settings) -> ReadOnlyUnitOfWorkFactory | None:
    if make_url(settings.DATABASE_URL).database in (None, "", ":memory:"):
        return None  # every connection has a database of its own: nothing to share
    # Imported here: it brings the sqlite3 module, which PostgreSQL servers never load.
    from webapp.infrastructure.sqlite_reads import SqliteChangeFeed, SqliteReadOnlyUnitOfWork

    def read() -> SqliteReadOnlyUnitOfWork:
        return SqliteReadOnlyUnitOfWork(lambda: db.engine)

    if not settings.USER_CACHE_SIZE:
        return read
    feed = SqliteChangeFeed(lambda: str(db.engine.url.database))
    cache = UserCache(feed, size=settings.USER_CACHE_SIZE,
                      max_age=settings.USER_CACHE_MAX_AGE)
    return CachedReader(cache, read)


def logins_from(settings: Settings) -> LoginStore | None:
    """A login is one read and one guarded write, no ORM: PostgreSQL's prepared
    statements, SQLite's connection (else the unit of work)."""
    if settings.DATABASE_URL.startswith("sqlite"):
        # Imported here: it brings the sqlite3 module, which PostgreSQL servers never load.
        from webapp.infrastructure.sqlite_logins import SqliteLogins

        return SqliteLogins(lambda: db.engine)
    if not settings.DATABASE_URL.startswith("postgresql"):
        return None
    from webapp.infrastructure.logins import PostgresLogins

    return PostgresLogins(lambda: db.engine)


def build_services(app: Flask, settings: Settings) -> Services:
    """The real adapters, wired by ``wire_services``. The ports bundle is also kept in
    ``app.extensions["ports"]`` for tests: no door reads it (tests/project checks)."""
    # The thread wakes at least as often as the shortest retry wait, so retries are on time.
    dispatcher = InlineDispatcher(app, poll=min(30.0, settings.DELIVERY_BACKOFF_SECONDS))
    app.extensions["outbox_dispatcher"] = dispatcher
    handover = dispatcher if settings.DELIVERY == "inline" else None
    ports = Ports(
        uow=lambda: SqlAlchemyUnitOfWork(lambda: db.session, handover),
        reader=reader_from(settings),
        clock=SystemClock(),
        passwords=Argon2Hasher(settings.ARGON2_MEMORY_COST, settings.ARGON2_TIME_COST,
                               settings.ARGON2_PARALLELISM),
        codes=HmacCodeHasher(settings.SECRET_KEY),
        signer=ItsDangerousSigner(settings.SECRET_KEY),
        renderer=JinjaRenderer(TEMPLATES),
        request=FlaskRequestContext(),
        policy=policy_from(settings),
        throttle=throttle_from(settings, app.extensions.get("rate_counters")),
        breached=breached_from(settings),
    )
    services = wire_services(ports, Adapters(
        codec=PyJwtCodec(settings.SECRET_KEY, settings.JWT_ISSUER),
        logins=logins_from(settings),
        mailer=mailer_from(settings),
        sms=sms_from(settings),
        billing=billing_from(settings),
        webhooks=StripeWebhooks(settings.STRIPE_WEBHOOK_SECRET),
        staff_queries=SqlStaffQueries(lambda: db.session),
        authenticators=PyOtpAuthenticators(),
        secret_box=FernetSecretBox(settings.SECRET_KEY, settings.MFA_ENCRYPTION_KEY),
        sessions=sessions_from(settings),
        device_label=device_label,
        webauthn=PyWebAuthn(
            rp_id=settings.WEBAUTHN_RP_ID or str(urlsplit(settings.APP_BASE_URL).hostname),
            rp_name=settings.WEBAUTHN_RP_NAME or settings.SITE_NAME,
            origin=origin_of(settings.APP_BASE_URL)),
        billing_settings=billing_settings_from(settings),
        # Console backends are for development: keep bodies so the dev outbox page shows them.
        keep_bodies=settings.console_delivery,
    ))
    dispatcher.serve(services.delivery)
    app.extensions["ports"] = ports
    return services
