"""The per-process user cache, with a fake change feed: no database.

What matters is that it never serves a user that a notification (or a local commit)
has announced as changed, and that it serves nothing at all while not listening.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from tests.helpers.feeds import FakeFeed
from webapp.domain.model import User
from webapp.infrastructure.user_cache import CLEAR_ALL, UserCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Database:
    """The rows behind the cache; counts the reads that reached it."""

    def __init__(self) -> None:
        self.users = {i: User(email=f"u{i}@example.com", phone=None, password_hash="h", id=i)
                      for i in range(1, 6)}
        self.reads = 0
        self.during_read: list = []  # callables run in the middle of the next read

    def load(self, user_id: int):  # noqa: ANN201
        def read() -> User | None:
            self.reads += 1
            user = self.users.get(user_id)
            snapshot = dataclasses.replace(user) if user else None
            while self.during_read:
                self.during_read.pop()()
            return snapshot

        return read


@pytest.fixture
def feed() -> FakeFeed:
    return FakeFeed()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db() -> Database:
    return Database()


@pytest.fixture
def cache(feed: FakeFeed, clock: Clock) -> UserCache:
    return UserCache(feed, size=3, max_age=60, retry=5, monotonic=clock)


def get(cache: UserCache, db: Database, user_id: int) -> User | None:
    return cache.get(user_id, db.load(user_id))


def test_a_second_lookup_is_served_without_a_read(cache, db) -> None:  # noqa: ANN001
    assert get(cache, db, 1).email == "u1@example.com"
    assert get(cache, db, 1).email == "u1@example.com"
    assert db.reads == 1


def test_a_notification_evicts_that_user_only(cache, db, feed) -> None:  # noqa: ANN001
    get(cache, db, 1), get(cache, db, 2)
    db.users[1].is_active = False
    feed.announce("1")
    assert get(cache, db, 1).is_active is False
    get(cache, db, 2)
    assert db.reads == 3  # 1, 2, then 1 again; 2 still cached


def test_clear_all_empties_the_cache(cache, db, feed) -> None:  # noqa: ANN001
    get(cache, db, 1), get(cache, db, 2)
    feed.announce(CLEAR_ALL)
    get(cache, db, 1), get(cache, db, 2)
    assert db.reads == 4


def test_copies_are_handed_out_so_callers_cannot_change_the_cache(cache, db) -> None:  # noqa: ANN001
    get(cache, db, 1).first_name = "Mallory"
    get(cache, db, 1).first_name = "Mallory"
    assert get(cache, db, 1).first_name == ""


def test_a_change_announced_during_the_read_cancels_the_fill(cache, db, feed) -> None:  # noqa: ANN001
    def concurrent_deactivation() -> None:
        db.users[1].is_active = False
        feed.announce("1")

    db.during_read.append(concurrent_deactivation)
    assert get(cache, db, 1).is_active is True  # read before the change: fine to return
    assert get(cache, db, 1).is_active is False  # ... but it was not remembered
    assert db.reads == 2


def test_any_notification_during_the_read_cancels_the_fill(cache, db, feed) -> None:  # noqa: ANN001
    db.during_read.append(lambda: feed.announce("4"))
    get(cache, db, 1)
    get(cache, db, 1)
    assert db.reads == 2


def test_a_local_commit_during_the_read_cancels_the_fill(cache, db) -> None:  # noqa: ANN001
    db.during_read.append(lambda: cache.evict({1}))
    get(cache, db, 1)
    get(cache, db, 1)
    assert db.reads == 2


def test_evict_drops_the_users_at_once(cache, db) -> None:  # noqa: ANN001
    get(cache, db, 1)
    cache.evict({1})
    get(cache, db, 1)
    assert db.reads == 2


def test_nothing_is_cached_until_the_feed_listens(cache, db, feed, clock) -> None:  # noqa: ANN001
    feed.fail_connect = True
    get(cache, db, 1), get(cache, db, 1)
    assert db.reads == 2 and len(cache) == 0 and not cache.live
    feed.fail_connect = False
    get(cache, db, 1)
    assert feed.connects == 0  # waits out the retry interval, still reading
    clock.now += 5
    get(cache, db, 1), get(cache, db, 1)
    assert feed.connects == 1 and cache.live and db.reads == 4


def test_a_lost_feed_empties_the_cache_and_reads_until_it_is_back(cache, db, feed, clock) -> None:  # noqa: ANN001
    get(cache, db, 1)
    feed.listening = False  # connection lost: notifications may be missed from now on
    get(cache, db, 1), get(cache, db, 1)
    assert db.reads == 3 and len(cache) == 0 and not cache.live
    clock.now += 5
    get(cache, db, 1)  # reconnects: LISTEN, clear, then caching again
    get(cache, db, 1)
    assert feed.connects == 2 and db.reads == 4


def test_the_cache_is_cleared_after_listening_again(cache, db, feed, clock) -> None:  # noqa: ANN001
    get(cache, db, 1)

    def reconnect_after_a_missed_change() -> None:
        db.users[1].is_active = False  # changed while nobody listened
        feed.listening = True
        feed.connects += 1

    cache._live = False  # as if the loss was noticed; the entry must not survive
    feed.connect = reconnect_after_a_missed_change  # type: ignore[method-assign]
    assert get(cache, db, 1).is_active is False


def test_least_recently_used_entries_go_first(cache, db) -> None:  # noqa: ANN001
    for user_id in (1, 2, 3):
        get(cache, db, user_id)
    get(cache, db, 1)  # 1 is now the most recent: 2 is the oldest
    get(cache, db, 4)
    assert len(cache) == 3
    reads = db.reads
    get(cache, db, 1), get(cache, db, 3), get(cache, db, 4)
    assert db.reads == reads
    get(cache, db, 2)
    assert db.reads == reads + 1


def test_an_entry_is_read_again_after_its_maximum_age(cache, db, clock) -> None:  # noqa: ANN001
    get(cache, db, 1)
    clock.now += 59.9
    get(cache, db, 1)
    assert db.reads == 1
    clock.now += 0.1
    get(cache, db, 1)
    assert db.reads == 2


def test_unknown_users_are_not_cached(cache, db) -> None:  # noqa: ANN001
    assert get(cache, db, 99) is None
    assert get(cache, db, 99) is None
    assert db.reads == 2


def test_a_forked_child_starts_empty_and_not_listening(cache, db, feed) -> None:  # noqa: ANN001
    get(cache, db, 1)
    cache.after_fork_in_child()
    assert feed.forgotten and not cache.live and len(cache) == 0
    get(cache, db, 1)  # the child opens its own connection
    get(cache, db, 1)
    assert feed.connects == 2 and db.reads == 2


def test_os_fork_resets_the_cache_in_the_child_only(cache, db, feed) -> None:  # noqa: ANN001
    get(cache, db, 1)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave at once, without pytest's clean-up
        reset = feed.forgotten and not cache.live and len(cache) == 0
        os.write(write_end, b"1" if reset else b"0")
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    assert os.read(read_end, 1) == b"1"
    os.close(read_end)
    assert cache.live and len(cache) == 1 and not feed.forgotten


def test_an_idle_worker_still_reads_its_notifications(feed, clock, db) -> None:  # noqa: ANN001
    cache = UserCache(feed, idle_drain=3600, monotonic=clock)
    get(cache, db, 1)
    drainer = cache._drainer
    assert drainer is not None and drainer.is_alive() and drainer.daemon
    feed.announce("1")
    cache.drain()  # what the drainer does every idle_drain seconds
    assert feed.pending == [] and len(cache) == 0
    get(cache, db, 2)
    assert cache._drainer is drainer  # one per process
