"""PostgreSQL row locks in tests: whether another thread came to wait for one we hold."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Connection, text


def came_to_wait(holder: Connection, thread: threading.Thread, timeout: float = 20.0) -> bool:
    """Whether ``thread`` is seen waiting for a lock (while ``holder``'s transaction holds
    it) before it ends or ``timeout`` passes; pg_locks is live, not a snapshot."""
    deadline = time.monotonic() + timeout
    while thread.is_alive() and time.monotonic() < deadline:
        if holder.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar():
            return True
    return False
