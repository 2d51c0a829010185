"""Inline delivery: a background thread per process drains the outbox after each commit.

Off the request path (the response does not wait for SMTP or Stripe), and it
also wakes every ``poll`` seconds so that retries with backoff happen without a
separate worker. ``DELIVERY=worker`` leaves all of this to ``flask worker``.

When the process exits (gunicorn's ``worker_exit``: SIGTERM on every deploy), ``stop``
lets the thread finish the message in hand and hand back the rest, as ``flask worker``
does on SIGTERM; a daemon thread killed mid-send would send that message again once its
lease ran out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import weakref

from flask import Flask

from webapp.application.delivery import DeliveryService

log = logging.getLogger("webapp.delivery")


def worker_name(prefix: str = "w") -> str:
    return f"{prefix}:{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class InlineDispatcher:
    """Kicked by the unit of work after a commit that queued messages; delivers them with
    the DeliveryService it is given by ``serve`` (the service is built after the unit of
    work that kicks this, so it comes second)."""

    def __init__(self, app: Flask, poll: float = 30.0) -> None:
        self.app = app
        self.delivery: DeliveryService | None = None
        self.poll = poll
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._running_here = False  # the thread was started in this very process
        _DISPATCHERS.add(self)

    def serve(self, delivery: DeliveryService) -> None:
        self.delivery = delivery

    def kick(self) -> None:
        """Called after a commit that queued messages."""
        self._idle.clear()
        self._ensure_thread()
        self._wake.set()

    def ensure_running(self) -> None:
        """Start the thread in this process if it is not running. Runs before every
        request: once it has started here, this is one attribute read (the thread
        survives every error of its own, and a fork clears the flag: see ``_forked``)."""
        if self._running_here:
            return
        self._ensure_thread()

    def stop(self, timeout: float = 25.0) -> bool:
        """The process is exiting: finish the message in hand, hand back the rest, start
        nothing more. True once the thread has ended (within ``timeout`` seconds)."""
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is None or self._pid != os.getpid() or not thread.is_alive():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Tests: block until everything kicked so far has been tried."""
        return self._idle.wait(timeout)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            # After a fork (gunicorn), the parent's thread does not exist in the child.
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="outbox-delivery",
                                                daemon=True)
                self._thread.start()
            self._running_here = True

    def _run(self) -> None:
        name = worker_name("inline")
        stopping = self._stopping.is_set
        while not stopping():  # a first pass at start-up picks up what was left due
            self._wake.clear()
            try:
                assert self.delivery is not None, "serve() names the delivery service first"
                with self.app.app_context():
                    while (self.delivery.deliver_due(name, stop=stopping) > 0
                           and not stopping()):
                        pass
            except Exception:  # the thread must survive a broken database connection
                log.exception("inline delivery failed; will try again")
            if not self._wake.is_set():
                self._idle.set()
            self._wake.wait(self.poll)
        self._idle.set()


# After a fork (gunicorn's workers), the parent's thread does not exist in the child.
_DISPATCHERS: weakref.WeakSet[InlineDispatcher] = weakref.WeakSet()


def _forked() -> None:
    for dispatcher in list(_DISPATCHERS):
        dispatcher._running_here = False  # noqa: SLF001


os.register_at_fork(after_in_child=_forked)
