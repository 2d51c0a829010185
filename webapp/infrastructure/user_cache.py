"""A per-process cache of User snapshots for the per-request checks, kept honest by
PostgreSQL: every change to a ``users`` row is announced (LISTEN/NOTIFY, see
webapp/infrastructure/user_feed.py; a new ``last_login_at`` alone is not, and no check
reads it) and evicts that user in every worker.

Checking an access token or a browser session needs the user's row (active? session
version still current?). Served from here, a bearer request makes no database round
trip. The rules stay in TokenService; this only answers ``users.get(id)``.

Safety, in order of importance:

- Fail closed. Nothing is served from or put into the cache unless the change feed is
  listening. Before it connects, after an error or once its connection is lost, every
  read goes to the database. On (re)connect: LISTEN first, then the cache is cleared,
  then caching starts, so no change made while nobody listened can be missed.
- Every lookup first drains the notifications already received, without blocking.
- No stale fill: a generation counter moves with every processed notification, every
  local commit that touched a user and every clear. A row read from the database is
  stored only if the generation is the same as just before the read.
- Writes made in this process evict at once when their transaction commits (a session
  hook below), so a worker always sees its own changes.
- Bounded: at most ``size`` entries (least recently used go first), none older than
  ``max_age`` seconds (counted from before its read), so even an undetected loss of
  the feed (a silently dropped network path, until TCP keepalives notice) cannot keep
  a revoked user alive longer than that.

What remains: a change committed by another process reaches this one as a
notification that is in flight for a moment after the writer's COMMIT returns (the
listening backend wakes and sends it; sub-millisecond on a healthy server). A request
checked in that moment still sees the previous row, as a read that started just
before the COMMIT would.

A worker that serves no requests (a server out of the load balancer's rotation) still
reads its notifications every few seconds on a daemon thread: left unread they would
fill its socket, then hold back PostgreSQL's notification queue, which all writers share.

Thread-safe (one lock; gunicorn may run threads). A forked child (gunicorn forks its
workers; the app may be loaded before the fork) starts with an empty, disconnected
cache and never touches the parent's listening connection.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from webapp.application.interfaces import ReadOnlyUnitOfWorkFactory
from webapp.domain.model import User
from webapp.infrastructure.orm import UserRow

log = logging.getLogger(__name__)

CLEAR_ALL = "*"  # the payload that empties the cache (e.g. TRUNCATE users)


class ChangeFeed(Protocol):
    """Announcements of changed user rows (payload: the user id, or CLEAR_ALL)."""

    def connect(self) -> None:
        """Listen; when this returns, every later change will be announced. Raises if not."""

    def drain(self) -> list[str] | None:
        """The payloads received so far, without blocking; None when not listening."""

    def close(self) -> None: ...

    def forget(self) -> None:
        """In a forked child: drop the parent's connection without using it."""


class UserCache:
    def __init__(self, feed: ChangeFeed, *, size: int = 10_000, max_age: float = 60.0,
                 retry: float = 5.0, idle_drain: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._feed = feed
        self._size, self._max_age, self._retry = size, max_age, retry
        self._idle_drain = idle_drain
        self._drainer: threading.Thread | None = None
        self._now = monotonic
        self._entries: OrderedDict[int, tuple[float, User]] = OrderedDict()
        self._generation = 0
        self._live = False  # listening, and cleared since: entries may be served and stored
        self._retry_at = 0.0
        self._new_locks()
        _CACHES.add(self)

    def _new_locks(self) -> None:
        self._lock = threading.Lock()
        self._connecting = threading.Lock()

    @property
    def live(self) -> bool:
        return self._live

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, user_id: int, load: Callable[[], User | None]) -> User | None:
        """The user from the cache, else ``load()`` (a database read), remembered if safe."""
        if not self._live:
            self._try_connect()
        with self._lock:
            self._sync()
            live, generation = self._live, self._generation
            if live:
                entry = self._entries.get(user_id)
                if entry is not None and self._now() - entry[0] < self._max_age:
                    self._entries.move_to_end(user_id)
                    return copy.copy(entry[1])
                self._entries.pop(user_id, None)
        started = self._now()
        user = load()
        if user is not None and live:
            self._fill(user_id, user, generation, started)
        return user

    def _fill(self, user_id: int, user: User, generation: int, started: float) -> None:
        with self._lock:
            self._sync()  # a change announced during the read cancels the fill
            if not self._live or self._generation != generation:
                return
            self._entries[user_id] = (started, copy.copy(user))
            self._entries.move_to_end(user_id)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def evict(self, user_ids: set[int]) -> None:
        with self._lock:
            self._generation += 1
            for user_id in user_ids:
                self._entries.pop(user_id, None)

    def _sync(self) -> None:
        """Apply the notifications received so far (under the lock)."""
        if not self._live:
            return
        payloads = self._feed.drain()
        if payloads is None:
            self._go_down("the change feed's connection was lost")
            return
        if not payloads:
            return
        self._generation += 1
        for payload in payloads:
            try:
                self._entries.pop(int(payload), None)
            except ValueError:  # CLEAR_ALL, or anything unexpected: forget everything
                self._entries.clear()
                return

    def _go_down(self, why: str) -> None:
        log.warning("user cache off, reading every user from the database: %s", why)
        self._feed.close()
        self._live = False
        self._entries.clear()
        self._generation += 1
        self._retry_at = self._now() + self._retry

    def _try_connect(self) -> None:
        """One thread (re)connects the feed while the others keep reading the database."""
        if self._now() < self._retry_at or not self._connecting.acquire(blocking=False):
            return
        try:
            if self._live:
                return
            try:
                self._feed.connect()
            except Exception as exc:  # any failure: stay closed, try again later
                log.warning("user cache off, change feed unavailable: %s", exc)
                self._retry_at = self._now() + self._retry
                return
            with self._lock:
                self._entries.clear()
                self._generation += 1
                self._live = True
            self._start_drainer()
        finally:
            self._connecting.release()

    def drain(self) -> None:
        """Apply what the feed received so far (the idle drainer's tick)."""
        with self._lock:
            self._sync()

    def _start_drainer(self) -> None:
        """A worker that serves no requests still reads its notifications: left unread
        they fill the socket, then PostgreSQL's queue, which every writer shares."""
        if self._idle_drain <= 0 or (self._drainer is not None and self._drainer.is_alive()):
            return
        self._drainer = threading.Thread(target=_drain_while_alive, name="user-cache-drain",
                                         args=(weakref.ref(self), self._idle_drain), daemon=True)
        self._drainer.start()

    def close(self) -> None:
        with self._lock:
            self._feed.close()
            self._live = False
            self._entries.clear()
            self._generation += 1

    def after_fork_in_child(self) -> None:
        """Only the forking thread exists here: fresh locks, nothing cached, not listening."""
        self._new_locks()
        self._entries.clear()
        self._generation += 1
        self._live = False
        self._retry_at = 0.0
        self._feed.forget()


class CachedReadOnlyUnitOfWork:
    """``users.get`` from the cache; the wrapped reader (a pooled connection) only on a miss."""

    def __init__(self, cache: UserCache, inner: ReadOnlyUnitOfWorkFactory) -> None:
        self._cache = cache
        self._inner = inner
        self.users = self

    def __enter__(self) -> CachedReadOnlyUnitOfWork:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def get(self, user_id: int) -> User | None:
        return self._cache.get(user_id, lambda: self._read(user_id))

    def _read(self, user_id: int) -> User | None:
        with self._inner() as uow:
            return uow.users.get(user_id)


class CachedReader:
    """The ReadOnlyUnitOfWorkFactory that bootstrap wires in on PostgreSQL."""

    def __init__(self, cache: UserCache, inner: ReadOnlyUnitOfWorkFactory) -> None:
        self.cache = cache
        self._inner = inner

    def __call__(self) -> CachedReadOnlyUnitOfWork:
        return CachedReadOnlyUnitOfWork(self.cache, self._inner)


def _drain_while_alive(ref: weakref.ref[UserCache], every: float) -> None:
    stop = threading.Event()  # never set: waits ``every`` seconds between ticks
    while not stop.wait(every):
        cache = ref()
        if cache is None:  # the app is gone
            return
        cache.drain()
        del cache


# --- every cache of this process ---------------------------------------------------------

_CACHES: weakref.WeakSet[UserCache] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for cache in list(_CACHES):
        cache.after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)

_CHANGED = "webapp.user_cache.changed"


@event.listens_for(Session, "after_flush")
def _note_changed_users(session: Session, _context: Any) -> None:
    """Users this transaction updated or deleted (their ids are known before commit)."""
    if not _CACHES:
        return
    changed = {obj.id for obj in (*session.dirty, *session.deleted) if isinstance(obj, UserRow)}
    if changed:
        session.info.setdefault(_CHANGED, set()).update(changed)


@event.listens_for(Session, "after_commit")
def _evict_committed(session: Session) -> None:
    """This process sees its own writes at once, before any notification comes back."""
    changed = session.info.pop(_CHANGED, None)
    if changed:
        for cache in list(_CACHES):
            cache.evict(changed)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)
