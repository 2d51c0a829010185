"""The RateLimiter port on the ``limits`` library.

The services' per-account and per-destination counters (the login lockout, the
message budgets) are given the database storage of shared_limits.py by the wiring,
with or without Redis: every worker and app server sees one number, and Redis going
down never opens the lockout. Fixed windows there; moving windows on a storage that
has them (memory, Redis).
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

from limits import RateLimitItem, parse_many
from limits.storage import MovingWindowSupport, Storage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

PREFIX = "webapp"


@lru_cache(maxsize=64)
def _items(limit: str) -> tuple[RateLimitItem, ...]:
    """The windows of ``limit``, shortest first (``30/day;10/hour`` as ``10/hour;30/day``)."""
    return tuple(sorted(parse_many(limit), key=lambda item: item.get_expiry()))


class LimitsRateLimiter:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.strategy = (MovingWindowRateLimiter(storage)
                         if isinstance(storage, MovingWindowSupport)
                         else FixedWindowRateLimiter(storage))

    def _wait(self, item: RateLimitItem, key: str) -> int:
        reset_at = self.strategy.get_window_stats(item, PREFIX, key).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def hit(self, limit: str, key: str) -> int:
        """One event counted in every window of ``limit``: 0, or when a window is full, the
        seconds until every full one has room (the event then counts in none of them).

        Windows are hit shortest first and a refusal stops there: a request refused by
        the hour must not spend the day (``10/hour;30/day`` would else be spent by
        refused retries, and the 429 saying "in an hour" be wrong for the rest of the
        day). One refused by a longer window gives back what the shorter ones counted
        (fixed windows; a moving window in memory keeps it). Successes cost as before."""
        items = _items(limit)
        for index, item in enumerate(items):
            if not self.strategy.hit(item, PREFIX, key):
                if isinstance(self.strategy, FixedWindowRateLimiter):
                    for counted in items[:index]:
                        self.storage.decr(counted.key_for(PREFIX, key))  # type: ignore[attr-defined]
                full = [item, *(later for later in items[index + 1:]
                                if not self.strategy.test(later, PREFIX, key))]
                return max(self._wait(window, key) for window in full)
        return 0

    def peek(self, limit: str, key: str) -> int:
        refused = [item for item in _items(limit) if not self.strategy.test(item, PREFIX, key)]
        return max((self._wait(item, key) for item in refused), default=0)

    def reset(self, limit: str, key: str) -> None:
        for item in _items(limit):
            self.strategy.clear(item, PREFIX, key)

    def count(self, key: str, ttl: int) -> int:
        return int(self.storage.incr(f"{PREFIX}/{key}", ttl))

    def hold(self, key: str, seconds: int) -> None:
        self.storage.clear(f"{PREFIX}/{key}")
        self.storage.incr(f"{PREFIX}/{key}", seconds)

    def held_for(self, key: str) -> int:
        if not self.storage.get(f"{PREFIX}/{key}"):
            return 0
        return max(1, math.ceil(self.storage.get_expiry(f"{PREFIX}/{key}") - time.time()))

    def drop(self, key: str) -> None:
        self.storage.clear(f"{PREFIX}/{key}")
