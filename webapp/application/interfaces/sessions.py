"""Where an account is signed in: the browser-session store and the known devices."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from webapp.domain.sessions import BrowserSession, KnownDevice


class SessionStore(Protocol):
    """Browser sessions kept on the server: the database, or Redis when REDIS_URL is set.

    Each call is one short step of its own (no transaction of the caller's is joined):
    ending a session takes effect at once, for every worker."""

    def add(self, session: BrowserSession, idle: timedelta) -> None:
        """Keep ``session``; it expires ``idle`` after it was last seen."""
        ...

    def get(self, session_id: str) -> BrowserSession | None: ...

    def touch(self, session_id: str, now: datetime, ip: str, idle: timedelta) -> None:
        """Seen again now, from ``ip`` (callers throttle: see BrowserSession.due_touch)."""
        ...

    def delete(self, session_id: str) -> bool:
        """End it; False when there was nothing to end."""
        ...

    def for_user(self, user_id: int) -> list[BrowserSession]:
        """The user's sessions (expired ones may be among them: callers filter)."""
        ...


class KnownDeviceRepository(Protocol):
    """The devices each account has signed in from (part of the unit of work)."""

    def get(self, user_id: int, key: str) -> KnownDevice | None: ...

    def has_any(self, user_id: int) -> bool: ...

    def add(self, device: KnownDevice) -> None: ...

    def save(self, device: KnownDevice) -> None: ...
