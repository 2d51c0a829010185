"""PostgreSQL row locks in tests: another thread made to wait for rows we hold."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import Connection, text

from webapp.extensions import db


def came_to_wait(holder: Connection, thread: threading.Thread, timeout: float = 20.0) -> bool:
    """Whether ``thread`` is seen waiting for a lock (while ``holder``'s transaction holds
    it) before it ends or ``timeout`` passes; pg_locks is live, not a snapshot."""
    deadline = time.monotonic() + timeout
    while thread.is_alive() and time.monotonic() < deadline:
        if holder.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar():
            return True
    return False


def waits_while_held(app: Flask, statements: list[tuple[str, dict[str, Any]]],
                     target: Callable[[], None], *, commit: bool = False) -> bool:
    """Run ``statements`` in one open transaction (the rows they lock stay locked), start
    ``target`` in a thread, then commit (or roll back) once it waits or ends, and let it
    finish. Whether the thread came to wait for those rows."""
    with app.app_context():
        holder = db.engine.connect()
        thread = threading.Thread(target=target)
        try:
            holder.begin()
            for sql, parameters in statements:
                holder.execute(text(sql), parameters)
            thread.start()
            waited = came_to_wait(holder, thread)
            if commit:
                holder.commit()
            else:
                holder.rollback()
        finally:
            holder.close()
        thread.join(timeout=30)
        db.session.remove()
    return waited
