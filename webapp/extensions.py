"""Unbound extension instances; ``create_app`` binds them with ``init_app``.

Flask-Migrate is not here: it is bound only for the ``flask`` command line
(see ``register_migrations``), so app servers do not load Alembic. Nor is Flask-Mail:
webapp/infrastructure/smtp.py sets it up with the first email a process sends.
``limiter`` (Flask-Limiter) is created on first use: with limits, wrapt and deprecated
it costs a process about 2 MiB, which an app that never enables rate limits does not
need (``from webapp.extensions import limiter`` creates it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response, request
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

if TYPE_CHECKING:
    from flask_limiter import Limiter

    limiter: Limiter


class Base(DeclarativeBase):
    pass


class WebLoginManager(LoginManager):
    """Flask-Login, whose remember-me cookie is a browser matter: the JSON API never signs
    a browser in or out, so its answers skip the hook that would read the session (and
    answer ``Vary: Cookie`` for a cookie they do not depend on)."""

    def _update_remember_cookie(self, response: Response) -> Response:
        if request.path.startswith("/api/"):
            return response
        return super()._update_remember_cookie(response)


db = SQLAlchemy(model_class=Base)
login_manager = WebLoginManager()
csrf = CSRFProtect()


def __getattr__(name: str) -> Any:
    """``limiter``, created once per process on first access (PEP 562)."""
    if name != "limiter":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    created = Limiter(key_func=get_remote_address, default_limits=[])
    globals()["limiter"] = created  # later accesses find it without this function
    return created
