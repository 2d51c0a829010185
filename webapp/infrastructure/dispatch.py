"""Inline delivery: a background thread per process sends what each commit queued.

Off the request path (the response does not wait for SMTP or Stripe). A message is
claimed for the thread of the process that queues it, in the transaction that queues it,
and handed to the thread after the commit: sending it takes no claim transaction (on
SQLite, two write locks fewer per message). The thread also claims from the outbox at
start-up, every ``poll`` seconds (retries with backoff, and what a dead process's leases
left behind) and after handing a message back, so nothing waits for a separate worker.
``DELIVERY=worker`` leaves all of this to ``flask worker``.

When the process exits (gunicorn's ``worker_exit``: SIGTERM on every deploy), ``stop``
lets the thread finish the message in hand and hand back the rest, as ``flask worker``
does on SIGTERM; a daemon thread killed mid-send would send that message again once its
lease ran out.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import weakref
from collections import deque
from collections.abc import Sequence

from flask import Flask

from webapp.application.delivery import DeliveryService
from webapp.domain.model import OutboxMessage

log = logging.getLogger("webapp.delivery")


def worker_name(prefix: str = "w") -> str:
    return f"{prefix}:{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class InlineDispatcher:
    """The unit of work's ``Handover``: claims messages as they are queued and is kicked
    with them after the commit; delivers them with the DeliveryService it is given by
    ``serve`` (the service is built after the unit of work that kicks this, so it comes
    second)."""

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
        self._name = ""  # the claimant of this process's messages (new after a fork)
        self._handed: deque[OutboxMessage] = deque()  # claimed, committed, not yet tried
        self._look = True  # the thread claims from the outbox on its next pass
        _DISPATCHERS.add(self)

    def serve(self, delivery: DeliveryService) -> None:
        self.delivery = delivery

    def claim(self, message: OutboxMessage) -> None:
        """A message is being queued in this process: claim it for this process's thread
        (not while stopping: then it is left to the next claim of any worker)."""
        if self.delivery is None or self._stopping.is_set():
            return
        self.delivery.claim_at_birth(message, self._claimant())

    def kick(self, messages: Sequence[OutboxMessage] = ()) -> None:
        """Called after a commit that queued ``messages``: those claimed here are sent from
        memory; a kick without them makes the thread look in the outbox."""
        name = self._claimant()
        mine = [message for message in messages if message.locked_by == name]
        self._handed.extend(mine)
        if len(mine) < len(messages) or not messages:
            self._look = True
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

    def _claimant(self) -> str:
        """This process's claimant name: one per dispatcher and process, kept if the thread
        is ever started again, so its claims stay its own."""
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:
                    self._name = f"{worker_name('inline')}:{secrets.token_hex(4)}"
                    self._pid, self._thread, self._look = pid, None, True
        return self._name

    def _ensure_thread(self) -> None:
        name = self._claimant()
        with self._lock:
            if self._stopping.is_set():
                return
            # After a fork (gunicorn), the parent's thread does not exist in the child.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, args=(name,),
                                                name="outbox-delivery", daemon=True)
                self._thread.start()
            self._running_here = True

    def _run(self, name: str) -> None:
        stopping = self._stopping.is_set
        self._look = True  # a first pass at start-up picks up what was left due
        while not stopping():
            self._wake.clear()
            try:
                assert self.delivery is not None, "serve() names the delivery service first"
                with self.app.app_context():
                    self._pass(self.delivery, name)
            except Exception:  # the thread must survive a broken database connection
                log.exception("inline delivery failed; will try again")
                self._look = True
            if not self._wake.is_set():
                self._idle.set()
            if not self._wake.wait(self.poll):
                self._look = True  # the poll: retries now due, others' expired leases
        with self.app.app_context():
            self._hand_back(name)
        self._idle.set()

    def _pass(self, delivery: DeliveryService, name: str) -> None:
        stopping = self._stopping.is_set
        while self._handed and not stopping():
            batch = [self._handed.popleft() for _ in range(min(20, len(self._handed)))]
            if delivery.deliver_claimed(batch, name, stop=stopping).released:
                self._look = True  # handed back (lease too short): claim them again
        if self._look and not stopping():
            self._look = False
            while delivery.deliver_due(name, stop=stopping) > 0 and not stopping():
                pass

    def _hand_back(self, name: str) -> None:
        """Stopping: the claimed messages not yet tried go back at once."""
        untried = list(self._handed)
        self._handed.clear()
        if untried and self.delivery is not None:
            try:
                self.delivery.hand_back(untried, name)
            except Exception:  # their leases end on their own
                log.exception("handing back undelivered messages failed")


# After a fork (gunicorn's workers), the parent's thread does not exist in the child.
_DISPATCHERS: weakref.WeakSet[InlineDispatcher] = weakref.WeakSet()


def _forked() -> None:
    for dispatcher in list(_DISPATCHERS):
        dispatcher._running_here = False  # noqa: SLF001
        dispatcher._handed.clear()  # noqa: SLF001 - the parent's claims, sent by the parent


os.register_at_fork(after_in_child=_forked)
