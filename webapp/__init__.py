"""The application factory: ``create_app(config=None, services=None)``."""

from __future__ import annotations

import atexit
import logging
import os
import re
from collections.abc import Callable
from functools import cached_property
from os import urandom
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from sqlalchemy.engine import make_url
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp.application.services import Services
from webapp.config import Settings
from webapp.extensions import csrf, db, login_manager
from webapp.infrastructure.log_filter import install_dev_console, install_log_filter
from webapp.interface.client_address import session_identifier
from webapp.interface.cookie_session import LazySecureCookieSessionInterface
from webapp.limit_stores import limit_stores

ROOT = Path(__file__).resolve().parent.parent
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
CLI_DELIVERY_WAIT = 30.0  # seconds a `flask` command waits at exit for what it queued


class WebApp(Flask):
    """Flask, asking once per view or hook whether it is a coroutine function.

    Flask asks ``inspect.iscoroutinefunction`` of every hook and the view on every request
    (``ensure_sync``: about 1 us each, a dozen per request here); the answer for a given
    function never changes, so it is kept.
    """

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._sync[func]
        except KeyError:
            sync = self._sync[func] = super().ensure_sync(func)
            return sync
        except TypeError:  # an unhashable callable: asked each time, as Flask does
            return super().ensure_sync(func)

    @cached_property
    def _sync(self) -> dict[Callable[..., Any], Callable[..., Any]]:
        return {}


def create_app(config: dict[str, Any] | None = None,
               services: Services | None = None) -> Flask:
    """Build the app. ``config`` overrides environment variables (tests);
    ``services`` replaces the real adapters (tests with fakes)."""
    app = WebApp(__name__, template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"), instance_relative_config=True)
    settings = Settings.load(os.environ, config, Path(app.instance_path))
    configure(app, settings)
    register_extensions(app, settings)
    app.extensions["services"] = services or _build_services(app, settings)
    register_blueprints(app)
    register_rate_limits(app)
    register_errorhandlers(app)
    register_request_hooks(app, settings)
    register_form_guard(app)
    register_commands(app, settings)
    return app


def configure(app: Flask, settings: Settings) -> None:
    logging.basicConfig(level=settings.LOG_LEVEL)
    _audit_log_lines()
    # secrets masked, control characters escaped, on every handler (the audit lines' too)
    install_log_filter("webapp.audit")
    if settings.is_development:
        install_dev_console()
    app.config.from_mapping(
        SETTINGS=settings,
        ENV_NAME=settings.APP_ENV,
        SECRET_KEY=settings.SECRET_KEY,
        APP_BASE_URL=settings.APP_BASE_URL,
        SQLALCHEMY_DATABASE_URI=settings.DATABASE_URL,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.DATABASE_URL,
                                                  settings.DATABASE_LOCK_TIMEOUT_MS),
        MAX_CONTENT_LENGTH=1024 * 1024,
        MAIL_SERVER=settings.MAIL_SERVER or "localhost",
        MAIL_PORT=settings.MAIL_PORT,
        MAIL_USERNAME=settings.MAIL_USERNAME or None,
        MAIL_PASSWORD=settings.MAIL_PASSWORD or None,
        MAIL_USE_TLS=settings.MAIL_USE_TLS,
        MAIL_USE_SSL=settings.MAIL_USE_SSL,
        MAIL_DEFAULT_SENDER=settings.MAIL_DEFAULT_SENDER,
        RATELIMIT_ENABLED=settings.RATELIMIT_ENABLED,
        **limit_stores(app, settings),
        RATELIMIT_KEY_PREFIX="webapp-ip",
        RATELIMIT_HEADERS_ENABLED=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.is_development and settings.APP_ENV != "testing",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
        **settings.extra,
    )
    app.debug = app.debug and settings.is_development
    app.session_interface = LazySecureCookieSessionInterface()
    if settings.TRUSTED_PROXIES:
        n = settings.TRUSTED_PROXIES
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=0,  # type: ignore[method-assign]
                                x_port=0, x_prefix=0)


def _audit_log_lines() -> None:
    """Audit events go to stderr as bare JSON lines (one per event), ready for a log shipper."""
    audit = logging.getLogger("webapp.audit")
    if not any(getattr(h, "audit_json", False) for h in audit.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.audit_json = True  # type: ignore[attr-defined]
        audit.addHandler(handler)
        audit.setLevel(logging.INFO)
        audit.propagate = False


def _engine_options(url: str, lock_timeout_ms: int) -> dict[str, Any]:
    # The pool hands out the connection returned last (LIFO), not the one idle longest:
    # a worker serves one request at a time, so that is the connection whose prepared
    # statements and page cache the last request warmed, and whose SQLite page cache its
    # own last write left valid. First-in-first-out alternated a login's read and write
    # between a worker's two pooled connections (about 0.2 to 0.4 ms of CPU per login,
    # measured with gunicorn). Spare connections stay idle (and are recycled) instead.
    if url.startswith("sqlite"):
        # tune_sqlite sets the same busy timeout by PRAGMA on every connection
        options: dict[str, Any] = {"connect_args": {"timeout": lock_timeout_ms / 1000,
                                                    "check_same_thread": False}}
        if make_url(url).database not in (None, "", ":memory:"):  # else one static connection
            options["pool_use_lifo"] = True
        return options
    # No pre-ping: it is a round trip on every checkout, as much as the one SELECT of a
    # token check. A connection found dead is detected on use and the pool discarded,
    # so a database restart costs each worker at most one failed request.
    return {"pool_recycle": 1800, "pool_use_lifo": True}


def register_extensions(app: Flask, settings: Settings) -> None:
    db.init_app(app)
    register_migrations(app)
    csrf.init_app(app)
    if settings.RATELIMIT_ENABLED:  # off: Flask-Limiter is not even loaded (~2 MiB)
        from webapp.extensions import limiter

        limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    login_manager.session_protection = "strong"
    login_manager._session_identifier_generator = session_identifier  # noqa: SLF001
    with app.app_context():
        from webapp.infrastructure import orm  # noqa: F401  (registers the tables)
        from webapp.infrastructure.uow import tune_postgresql, tune_sqlite

        tune_sqlite(db.engine, settings.DATABASE_LOCK_TIMEOUT_MS)
        tune_postgresql(db.engine, settings.DATABASE_LOCK_TIMEOUT_MS)


def register_migrations(app: Flask) -> None:
    """``flask db ...``: Flask-Migrate and Alembic (about 12 MiB per process) are loaded
    only under the ``flask`` command line, which sets FLASK_RUN_FROM_CLI; gunicorn
    workers never run a migration."""
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true":
        return
    # Alembic's plugin set-up lines (logged on import) would print on every command.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from flask_migrate import Migrate

    Migrate(app, db, directory=str(ROOT / "migrations"))


def _build_services(app: Flask, settings: Settings) -> Services:
    from webapp.bootstrap import build_services

    return build_services(app, settings)


def register_blueprints(app: Flask) -> None:
    from webapp.interface import admin, api, dev, health, web

    csrf.exempt(api.bp)  # bearer tokens, not cookies; JSON only (415 otherwise)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(dev.bp)  # answers 404 unless Settings.dev_outbox_enabled
    app.register_blueprint(admin.bp)


def register_rate_limits(app: Flask) -> None:
    from webapp.interface.limits import register_rate_limits as register

    register(app)


def register_errorhandlers(app: Flask) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from webapp.infrastructure.db_faults import classify
    from webapp.interface.errors import register_errorhandlers as register
    from webapp.interface.errors import register_unavailable

    register(app)
    errors: tuple[type[Exception], ...] = (SQLAlchemyError,)
    if app.config["SETTINGS"].DATABASE_URL.startswith("postgresql"):
        import psycopg  # the fast paths (readers, logins) use its connection directly

        errors = (*errors, psycopg.Error)
    register_unavailable(app, errors, classify)
    app.extensions["database_fault"] = classify  # the command line's too (interface/cli.py)


def register_request_hooks(app: Flask, settings: Settings) -> None:
    dispatcher = app.extensions.get("outbox_dispatcher")
    if dispatcher is not None and settings.DELIVERY == "inline":
        # Also start with the first request, so messages left pending by a restart are retried.
        app.before_request(dispatcher.ensure_running)
    # Set on every response unless the view set its own; one pass over the response's
    # headers instead of one scan per name (this runs on every request).
    defaults = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy",
         "default-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; "
         # Stripe: the subscribe and "Manage billing" forms redirect to Checkout/the portal.
         "form-action 'self' https://checkout.stripe.com https://billing.stripe.com"),
    ]
    if not settings.is_development:
        defaults.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    # A JSON answer loads nothing and is framed by nobody: OWASP's REST policy, stricter
    # (and shorter, on the hottest answers) than the pages' one.
    api = [(name, "default-src 'none'; frame-ancestors 'none'"
            if name == "Content-Security-Policy" else value) for name, value in defaults]
    no_store = ("Cache-Control", "no-store")

    @app.before_request
    def _request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        # 32 random hex digits, as uuid4().hex gave, for less CPU (this runs on every request)
        g.request_id = incoming if incoming and REQUEST_ID.match(incoming) else urandom(16).hex()

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        if "request_id" not in g:  # refused before its hook ran (CSRF, an IP limit, form guard)
            _request_id()
        headers["X-Request-ID"] = g.request_id
        present = {name.lower() for name, _value in headers.items()}
        wanted = defaults
        if request.path.startswith("/api/") and response.mimetype != "text/html":
            wanted = [*api, no_store]
        elif request.path.startswith("/api/") or response.mimetype == "text/html":
            # Pages are per-user and carry CSRF tokens (some carry link tokens): never cached.
            wanted = [*defaults, no_store]
        for name, value in wanted:
            if name.lower() not in present:
                headers.add(name, value)
        return response


def register_form_guard(app: Flask) -> None:
    from webapp.interface.form_guard import register_form_guard as register

    register(app)


def register_commands(app: Flask, settings: Settings) -> None:
    from webapp.interface.cli import register

    register(app)
    dispatcher = app.extensions.get("outbox_dispatcher")
    if settings.DELIVERY == "inline" and dispatcher is not None \
            and os.environ.get("FLASK_RUN_FROM_CLI") == "true":
        # A `flask` command's messages (an invitation, a user's notice) are handed to this
        # process's delivery thread, a daemon: the process lets it send them before it
        # exits, as gunicorn's worker_exit does, rather than leave them claimed by a dead
        # process until their lease runs out (and unsent if nothing else delivers).
        atexit.register(_finish_delivery, dispatcher)


def _finish_delivery(dispatcher: Any) -> None:
    dispatcher.wait_idle(CLI_DELIVERY_WAIT)
    dispatcher.stop(timeout=5)
