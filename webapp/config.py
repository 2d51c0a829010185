"""Typed settings from the environment (see the README's table), validated at start-up.

``Settings.load(environ, overrides)`` collects every problem and raises one
ConfigError that lists them all, so a misconfigured deployment fails at boot
with a message an operator can act on.
"""

from __future__ import annotations

import dataclasses
import importlib.machinery
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from webapp.application.throttling import DEFAULT_LOCKOUT, parse_lockout
from webapp.config_sources import dev_secret as _dev_secret
from webapp.config_sources import fernet_keys_problem
from webapp.config_sources import ratelimits as _ratelimits

log = logging.getLogger(__name__)

ENVIRONMENTS = ("development", "testing", "production")
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


class ConfigError(RuntimeError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Invalid configuration:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True)
class Settings:
    APP_ENV: str = "development"
    SECRET_KEY: str = ""
    DATABASE_URL: str = ""
    APP_BASE_URL: str = "http://localhost:5000"
    SITE_NAME: str = "Accounts"
    MAIL_SERVER: str = ""
    MAIL_PORT: int = 25
    MAIL_USERNAME: str = ""
    MAIL_PASSWORD: str = ""
    MAIL_USE_TLS: bool = False
    MAIL_USE_SSL: bool = False
    MAIL_DEFAULT_SENDER: str = "Accounts <no-reply@localhost>"
    SMS_BACKEND: str = "console"
    SMS_HTTP_URL: str = ""
    SMS_HTTP_TOKEN: str = ""
    TWILIO_ACCOUNT_SID: str = ""
    TWILIO_AUTH_TOKEN: str = ""
    TWILIO_FROM: str = ""
    STRIPE_SECRET_KEY: str = ""
    STRIPE_API_BASE: str = ""
    STRIPE_WEBHOOK_SECRET: str = ""
    STRIPE_PRICES: str = ""  # comma-separated price ids offered as plans; else product metadata
    STRIPE_PLANS_TTL: int = 300
    REDIS_URL: str = ""
    # How long a statement waits for a lock before the request answers 503 (SQLite's busy
    # timeout, PostgreSQL's lock_timeout); under gunicorn's 30 s worker timeout.
    DATABASE_LOCK_TIMEOUT_MS: int = 15_000
    JWT_ACCESS_TTL: int = 900
    JWT_REFRESH_TTL: int = 1_209_600
    JWT_ISSUER: str = "webapp"
    REAUTH_MAX_AGE: int = 300  # seconds a sign-in counts as recent for sensitive changes
    MFA_ENCRYPTION_KEY: str = ""  # Fernet keys, comma-separated, newest first; else SECRET_KEY
    MFA_REQUIRED_FOR_STAFF: bool = False
    WEBAUTHN_RP_ID: str = ""  # passkeys' relying-party id; default: the host of APP_BASE_URL
    WEBAUTHN_RP_NAME: str = ""  # the name the browser's passkey prompt shows; default: SITE_NAME
    ACCOUNT_DELETION_GRACE: int = 604_800  # seconds from a deletion to the erasure; 0: at once
    RATELIMIT_ENABLED: bool = True
    TRUSTED_PROXIES: int = 0
    PWNED_PASSWORDS_URL: str = ""
    PWNED_PASSWORDS_TIMEOUT: int = 2
    # Each limit of webapp/application/throttling.py's table, overridable one by one
    # with RATELIMIT_<NAME> (e.g. RATELIMIT_LOGIN="20/minute;200/hour").
    RATELIMITS: dict[str, str] = field(default_factory=dict)
    LOCKOUT_STEPS: str = DEFAULT_LOCKOUT
    REGISTRATION: str = "open"
    INVITATIONS_BY_USERS: bool = False
    DELIVERY: str = "inline"
    DELIVERY_BACKOFF_SECONDS: int = 10
    DELIVERY_LEASE_SECONDS: int = 60
    PHONE_DEFAULT_REGION: str = "US"
    RESEND_COOLDOWN: int = 60
    ARGON2_MEMORY_COST: int = 19 * 1024
    ARGON2_TIME_COST: int = 2
    ARGON2_PARALLELISM: int = 1
    # Users cached per worker for token and session checks (webapp/infrastructure/
    # user_cache.py), evicted by LISTEN/NOTIFY on PostgreSQL and by PRAGMA data_version on
    # a SQLite file (sqlite_reads.py); USER_CACHE_SIZE=0 turns it off.
    USER_CACHE_SIZE: int = 10_000
    USER_CACHE_MAX_AGE: int = 60
    LOG_LEVEL: str = "INFO"
    FLASK_DEBUG: bool = False  # Flask's own variable (flask run --debug sets it)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.APP_ENV == "production"

    @property
    def is_development(self) -> bool:
        return self.APP_ENV == "development"

    @property
    def console_delivery(self) -> bool:
        """Email and SMS go to the log only (no SMTP server, no SMS gateway configured)."""
        return not self.MAIL_SERVER and self.SMS_BACKEND == "console"

    @property
    def dev_outbox_enabled(self) -> bool:
        """The /dev/outbox page: development with console delivery, never anything else."""
        return self.is_development and self.console_delivery

    @classmethod
    def load(cls, environ: Mapping[str, str], overrides: Mapping[str, Any] | None,
             instance_path: Path) -> Settings:
        problems: list[str] = []
        values: dict[str, Any] = {}
        overrides = dict(overrides or {})
        values["RATELIMITS"] = _ratelimits(environ, overrides, problems)
        for spec in dataclasses.fields(cls):
            if spec.name in ("extra", "RATELIMITS"):
                continue
            raw = overrides.pop(spec.name) if spec.name in overrides else environ.get(spec.name)
            if raw is None:
                continue
            # Strings (the environment's, or a caller's) are parsed; typed overrides kept.
            values[spec.name] = (_convert(spec, raw, problems) if isinstance(raw, str)
                                 else raw)
        settings = cls(**values, extra=overrides)
        return settings._completed(instance_path, problems)

    def _completed(self, instance_path: Path, problems: list[str]) -> Settings:
        changes: dict[str, Any] = {}
        if self.APP_ENV not in ENVIRONMENTS:
            problems.append(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, "
                            f"not {self.APP_ENV!r}.")
        if not self.SECRET_KEY:
            if self.is_production:
                problems.append("SECRET_KEY is required in production "
                                "(e.g. python -c 'import secrets; print(secrets.token_hex(32))').")
            else:
                changes["SECRET_KEY"] = _dev_secret(instance_path, problems)
        elif self.is_production and len(self.SECRET_KEY) < 32:
            problems.append("SECRET_KEY must be at least 32 characters in production.")
        if self.is_production and self.FLASK_DEBUG:
            problems.append("FLASK_DEBUG must be off in production (the debugger runs code).")
        if not self.DATABASE_URL:
            changes["DATABASE_URL"] = f"sqlite:///{instance_path / 'app.db'}"
        _check_choice(problems, "SMS_BACKEND", self.SMS_BACKEND, ("console", "http", "twilio"))
        _check_choice(problems, "REGISTRATION", self.REGISTRATION, ("open", "invite"))
        _check_choice(problems, "DELIVERY", self.DELIVERY, ("inline", "worker"))
        if self.SMS_BACKEND == "http" and not self.SMS_HTTP_URL:
            problems.append("SMS_BACKEND=http needs SMS_HTTP_URL.")
        if self.SMS_BACKEND == "twilio" and not (
                self.TWILIO_ACCOUNT_SID and self.TWILIO_AUTH_TOKEN and self.TWILIO_FROM):
            problems.append("SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN "
                            "and TWILIO_FROM.")
        if not _one_mailbox(self.MAIL_DEFAULT_SENDER):
            problems.append("MAIL_DEFAULT_SENDER must be one address such as 'Accounts "
                            "<no-reply@example.com>' (a name with a comma in double quotes: "
                            "'\"Acme, Inc.\" <no-reply@example.com>'), not "
                            f"{self.MAIL_DEFAULT_SENDER!r}.")
        if urlsplit(self.APP_BASE_URL).scheme not in ("http", "https"):
            problems.append("APP_BASE_URL must be an absolute http(s) URL.")
        elif self.is_production and not self.APP_BASE_URL.startswith("https://"):
            problems.append("APP_BASE_URL must use https in production.")
        host = urlsplit(self.APP_BASE_URL).hostname or ""
        rp_id = self.WEBAUTHN_RP_ID.lower()  # a domain: its case means nothing
        if rp_id != self.WEBAUTHN_RP_ID:
            changes["WEBAUTHN_RP_ID"] = rp_id
        if rp_id and host != rp_id and not host.endswith("." + rp_id):
            problems.append("WEBAUTHN_RP_ID must be the host of APP_BASE_URL or a parent "
                            "domain of it (passkeys are bound to it).")
        for name in ("JWT_ACCESS_TTL", "JWT_REFRESH_TTL", "STRIPE_PLANS_TTL", "ARGON2_TIME_COST",
                     "ARGON2_PARALLELISM", "DELIVERY_LEASE_SECONDS", "REAUTH_MAX_AGE"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be a positive number.")
        if self.ARGON2_MEMORY_COST < 8 * self.ARGON2_PARALLELISM:
            problems.append("ARGON2_MEMORY_COST must be at least 8 KiB per lane.")
        if self.DELIVERY_BACKOFF_SECONDS < 1:
            problems.append("DELIVERY_BACKOFF_SECONDS must be at least 1.")
        try:
            parse_lockout(self.LOCKOUT_STEPS)
        except ValueError:
            problems.append("LOCKOUT_STEPS must look like 5:60,10:300,20:1800 "
                            "(after N failures, lock S seconds).")
        for name in ("RESEND_COOLDOWN", "ACCOUNT_DELETION_GRACE"):  # 0: off / at once
            if getattr(self, name) < 0:
                problems.append(f"{name} must be 0 or more seconds.")
        if self.DATABASE_LOCK_TIMEOUT_MS < 1:
            problems.append("DATABASE_LOCK_TIMEOUT_MS must be a positive number of ms.")
        if self.TRUSTED_PROXIES < 0:
            problems.append("TRUSTED_PROXIES must be 0 or more.")
        if self.USER_CACHE_SIZE < 0:
            problems.append("USER_CACHE_SIZE must be 0 (off) or more.")
        if problem := fernet_keys_problem(self.MFA_ENCRYPTION_KEY):
            problems.append(problem)
        if self.USER_CACHE_MAX_AGE < 1:
            problems.append("USER_CACHE_MAX_AGE must be a positive number of seconds.")
        changes.update(_upper_choices(self, problems))
        if (self.is_production and self.RATELIMIT_ENABLED
                and self.DATABASE_URL.rstrip("/") in ("sqlite:", "sqlite:///:memory:")):
            # The lockout counts in the database, even with REDIS_URL set.
            problems.append("An in-memory SQLite DATABASE_URL gives each worker its own "
                            "lockout and limits: use a database file or PostgreSQL.")
        if self.is_production and self.ARGON2_MEMORY_COST < 19 * 1024:
            log.warning("ARGON2_MEMORY_COST below OWASP's 19 MiB in production")
        if problems:
            raise ConfigError(problems)
        return dataclasses.replace(self, **changes)


def _convert(spec: dataclasses.Field[Any], raw: str, problems: list[str]) -> Any:
    """The typed value; on a parse error the problem is noted and the default kept,
    so that the same variable is not reported a second time by the range checks."""
    kind, name = str(spec.type), spec.name
    if kind == "bool":
        lowered = raw.strip().lower()
        if lowered in TRUE:
            return True
        if lowered in FALSE:
            return False
        problems.append(f"{name} must be true or false, not {raw!r}.")
        return spec.default
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            problems.append(f"{name} must be a whole number, not {raw!r}.")
            return spec.default
    return raw


LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


def _is_phone_region(region: str) -> bool:
    """Whether phonenumbers has metadata for ``region`` (its SUPPORTED_REGIONS), found
    without importing it: the library (about 1 MiB per process) is loaded on the first
    phone number parsed, and servers that only log in by email never load it.
    tests/integration/adapters/test_config.py checks this against SUPPORTED_REGIONS."""
    spec = importlib.machinery.PathFinder.find_spec("phonenumbers")
    if not re.fullmatch(r"[A-Z]{2}", region) or spec is None:
        return False
    return any((Path(folder) / "data" / f"region_{region}.py").is_file()
               for folder in spec.submodule_search_locations or ())


def _upper_choices(settings: Settings, problems: list[str]) -> dict[str, str]:
    """LOG_LEVEL and PHONE_DEFAULT_REGION, accepted in any case. An unknown region would
    otherwise make every national phone number invalid without saying why."""
    level = settings.LOG_LEVEL.strip().upper()
    _check_choice(problems, "LOG_LEVEL", level, LOG_LEVELS)
    region = settings.PHONE_DEFAULT_REGION.strip().upper()
    if region and not _is_phone_region(region):
        problems.append(f"PHONE_DEFAULT_REGION must be a two-letter region code such as US "
                        f"or GB (or empty), not {settings.PHONE_DEFAULT_REGION!r}.")
    return {"LOG_LEVEL": level, "PHONE_DEFAULT_REGION": region}


def _one_mailbox(value: str) -> bool:
    """``value`` reads as exactly one ``local@domain``, with or without a name: an unquoted
    comma ("Acme, Inc. <...>") makes two, and every email would go out From "Acme"."""
    found = getaddresses([value])
    if len(found) != 1:
        return False
    local, at, domain = found[0][1].rpartition("@")
    return bool(local and at and domain) and not any(c.isspace() for c in found[0][1])


def _check_choice(problems: list[str], name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        problems.append(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
