"""Where the rate limits count, worked out when the app is built, and said at start by a
process that serves (not by each one-off ``flask`` command)."""

from __future__ import annotations

import os
from typing import Any

import click
from flask import Flask

from webapp.config import Settings
from webapp.extensions import db


def limit_stores(app: Flask, settings: Settings) -> dict[str, Any]:
    """Where each limit counts (webapp/infrastructure/shared_limits.py), logged at start
    by a process that serves. Nothing when limits are off: the limits library is then
    never loaded (~2 MiB)."""
    if not settings.RATELIMIT_ENABLED:
        return {}
    from webapp.application.throttling import DEFAULT_LIMITS
    from webapp.infrastructure.shared_limits import counters_engine, limiter_config
    from webapp.interface.limits import (
        ENDPOINT_LIMITS,
        LIMITER_RETRY_AFTER,
        announce_limit_stores,
    )

    counters = counters_engine(settings.DATABASE_URL, lambda: db.engine,
                               settings.DATABASE_LOCK_TIMEOUT_MS)
    app.extensions["rate_counters"] = counters
    config, where = limiter_config(settings.REDIS_URL, counters)
    per_client = sorted(set(ENDPOINT_LIMITS.values()))
    services = sorted(set(DEFAULT_LIMITS) - set(per_client))
    shared = counters[1] if counters else "this process's memory"
    app.extensions["limit_stores"] = (
        f"rate limits per client address ({', '.join(per_client)}) count in {where}; the "
        f"lockout and the per-account and per-destination limits ({', '.join(services)}) "
        f"in {shared}")
    if _serving():
        announce_limit_stores(app)
    # Flask-Limiter's wait under a name of its own: interface/limits.py decides Retry-After.
    return {**config, "RATELIMIT_HEADER_RETRY_AFTER": LIMITER_RETRY_AFTER}


def _serving() -> bool:
    """Whether this process is built to serve (gunicorn, ``flask run``), rather than for
    one ``flask`` command: ``users ...`` and ``db upgrade`` print their own sentence, and
    a line about the limits' stores would clutter a script's output. ``worker`` logs it
    itself when it starts. Only this INFO line is left out: warnings and errors are not."""
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true":
        return True
    command = click.get_current_context(silent=True)
    return command is not None and command.info_name == "run"  # run builds the app itself
