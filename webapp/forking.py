"""What a process forked from one that built the app must do first (gunicorn's preload_app).

A database connection is a socket with a session on the other end: two processes using
the one the master opened would interleave their protocol messages (``SSL error``,
``lost synchronization with server``, or worse, one reading the other's rows). The worker
drops the master's pool without closing its connections (closing would end them for the
master too; psycopg also never finishes a connection from a process that did not open
it) and opens its own on first use.
"""

from __future__ import annotations

from typing import Any


def forget_inherited_connections(app: Any) -> None:
    """Give each SQLAlchemy engine of ``app`` (if it is this Flask app) an empty pool."""
    state = getattr(app, "extensions", {}).get("sqlalchemy")
    if state is None:  # another WSGI callable served with this configuration
        return
    with app.app_context():
        for engine in state.engines.values():
            engine.dispose(close=False)
