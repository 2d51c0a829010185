"""Who is calling, and the shared counters that throttle them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class RateLimiter(Protocol):
    """Counters shared by every worker (Redis when configured), for throttling and lockout.

    ``limit`` is a rate string such as ``"3/hour"`` or ``"20/minute;200/hour"``;
    answers in whole seconds.
    """

    def hit(self, limit: str, key: str) -> int:
        """Count one event for ``key``: 0 when within ``limit``, else seconds until it is."""
        ...

    def peek(self, limit: str, key: str) -> int:
        """Like ``hit`` without counting."""
        ...

    def reset(self, limit: str, key: str) -> None: ...

    def count(self, key: str, ttl: int) -> int:
        """Add one to a plain counter that lives ``ttl`` seconds from its first count."""
        ...

    def hold(self, key: str, seconds: int) -> None:
        """(Re)start a mark on ``key`` that lasts ``seconds``."""
        ...

    def held_for(self, key: str) -> int:
        """Seconds left on the mark (0: none)."""
        ...

    def drop(self, key: str) -> None:
        """Forget a counter or mark."""
        ...


@dataclass(frozen=True)
class RequestInfo:
    ip: str = ""
    user_agent: str = ""
    request_id: str = ""


class RequestContext(Protocol):
    """Who is calling: the interface layer sets it, the audit trail reads it."""

    def current(self) -> RequestInfo: ...
