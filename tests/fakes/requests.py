"""Fakes of the request context and the rate limiter's counters."""

from __future__ import annotations

from tests.fakes.security import FakeClock
from webapp.application.interfaces import RequestInfo


class FakeRequestContext:
    def __init__(self) -> None:
        self.info = RequestInfo(ip="192.0.2.1", user_agent="pytest", request_id="req-1")

    def current(self) -> RequestInfo:
        return self.info


class FakeRateLimiter:
    """The RateLimiter port on the fake clock: moving windows and expiring counters."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.events: dict[str, list[float]] = {}
        self.marks: dict[str, tuple[int, float]] = {}

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _windows(self, limit: str, key: str) -> list[tuple[str, int, int]]:
        from limits import parse_many

        return [
            (f"{key}/{item.amount}/{item.get_expiry()}", item.amount, item.get_expiry())
            for item in parse_many(limit)
        ]

    def _wait(self, name: str, amount: int, window: int) -> int:
        live = [t for t in self.events.get(name, []) if t > self._now() - window]
        self.events[name] = live
        return 0 if len(live) < amount else max(1, int(live[-amount] + window - self._now()))

    def hit(self, limit: str, key: str) -> int:
        waits = []
        for name, amount, window in self._windows(limit, key):
            wait = self._wait(name, amount, window)
            if wait:
                waits.append(wait)
            else:
                self.events[name].append(self._now())
        return max(waits, default=0)

    def peek(self, limit: str, key: str) -> int:
        return max((self._wait(*w) for w in self._windows(limit, key)), default=0)

    def reset(self, limit: str, key: str) -> None:
        for name, _, _ in self._windows(limit, key):
            self.events.pop(name, None)

    def _mark(self, key: str) -> tuple[int, float]:
        value, until = self.marks.get(key, (0, 0.0))
        return (value, until) if until > self._now() else (0, 0.0)

    def count(self, key: str, ttl: int) -> int:
        value, until = self._mark(key)
        self.marks[key] = (value + 1, until or self._now() + ttl)
        return value + 1

    def hold(self, key: str, seconds: int) -> None:
        self.marks[key] = (1, self._now() + seconds)

    def held_for(self, key: str) -> int:
        value, until = self._mark(key)
        return max(1, int(until - self._now())) if value else 0

    def drop(self, key: str) -> None:
        self.marks.pop(key, None)
