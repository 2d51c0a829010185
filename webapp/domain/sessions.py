"""Where an account is signed in: browser sessions, API logins (refresh families) as one
list, and the devices an account has signed in from (for new-device notices).

Plain dataclasses and rules, no I/O; times are aware UTC datetimes handed in.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# A session's last-seen time is written at most this often: page views stay reads.
TOUCH_EVERY = timedelta(minutes=1)
# A device not seen for this long is new again: its next sign-in is announced.
DEVICE_MEMORY = timedelta(days=90)
# A known device's last-seen time is written at most this often (most sign-ins only read).
DEVICE_REFRESH = timedelta(days=1)
# What every id in the list looks like (browser session ids and refresh family ids).
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")


def session_id_of(secret: str) -> str:
    """A browser session's id: a digest of the secret its cookie carries, so that the
    ids shown in lists (to the user, to staff) cannot be turned back into a cookie."""
    return hashlib.sha256(f"session:{secret}".encode()).hexdigest()[:32]


class SessionKind(StrEnum):
    BROWSER = "browser"
    API = "api"


@dataclass(eq=False)
class BrowserSession:
    """A signed-in browser, kept on the server: ending it ends the cookie that points here."""

    id: str
    user_id: int
    version: str  # the account's session version when it began (a password change ends it)
    created_at: datetime
    last_seen_at: datetime
    ip: str = ""
    user_agent: str = ""
    device: str = ""

    def due_touch(self, now: datetime) -> bool:
        return now - self.last_seen_at >= TOUCH_EVERY

    def expired(self, now: datetime, idle: timedelta) -> bool:
        return now - self.last_seen_at > idle


@dataclass(frozen=True)
class SessionEntry:
    """One line of "where you are signed in"."""

    id: str
    kind: SessionKind
    created_at: datetime
    last_seen_at: datetime
    ip: str
    user_agent: str
    device: str
    current: bool = False


@dataclass(eq=False)
class KnownDevice:
    """A device this account has signed in from: a browser's device cookie or, for API
    clients, its user agent and network (only a digest of either is kept)."""

    user_id: int
    key: str
    first_seen_at: datetime
    last_seen_at: datetime
    id: int | None = None


@dataclass(frozen=True)
class DeviceVisit:
    """The device a sign-in came from, recorded with the login in the same write: added
    if the account does not have it, its last-seen time moved if older than a day."""

    key: str
    at: datetime

    @property
    def refresh_before(self) -> datetime:
        """A stored last-seen time at or before this is moved to ``at``."""
        return self.at - DEVICE_REFRESH

    def refreshes(self, last_seen_at: datetime) -> bool:
        """This visit moves a stored last-seen time (once a day at most)."""
        return last_seen_at <= self.refresh_before


@dataclass(frozen=True)
class DeviceSeen:
    """What recording a ``DeviceVisit`` found, as it was before the login's write."""

    visit: DeviceVisit
    inserted: bool  # this write added the device (a racing sign-in's insert is not ours)
    previous_seen_at: datetime | None  # when it was last seen before (None: never)
    had_devices: bool  # the account had any device before (else this is its first)

    @property
    def is_new(self) -> bool:
        forgotten = (self.previous_seen_at is not None
                     and self.visit.at - self.previous_seen_at > DEVICE_MEMORY)
        return self.inserted or forgotten

    @property
    def worth_a_notice(self) -> bool:
        """New to an account that had devices: the first sign-in (right after
        registering) is not announced; it has nothing to compare with."""
        return self.is_new and self.had_devices


def device_key(kind: SessionKind, identity: str) -> str:
    return hashlib.sha256(f"{kind}:{identity}".encode()).hexdigest()


def ip_network(ip: str) -> str:
    """The network an API client's address is counted in: a /24 for IPv4, a /48 for IPv6
    (a phone that moves around one network stays one device). An IPv4-mapped address (as
    a dual-stack server sees IPv4 clients) counts as its IPv4 form, any spelling of an
    IPv6 address as the same network, and a port a proxy wrote beside it not at all."""
    address = _address(ip)
    if address is None:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is None:
            return str(ipaddress.IPv6Network((int(address) >> 80 << 80, 48)))
        address = address.ipv4_mapped
    return str(ipaddress.IPv4Network((int(address) >> 8 << 8, 24)))


_WITH_PORT = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$|^\[([^\]]+)\](?::\d{1,5})?$")


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in ``ip``, without a port a proxy may have written beside it."""
    bare = _WITH_PORT.match(ip)
    try:
        return ipaddress.ip_address(bare[1] or bare[2] if bare else ip)
    except ValueError:
        return None


def limited_network(ip: str) -> str:
    """What the per-client-address rate limits count: an IPv4 address as it is (an
    IPv4-mapped IPv6 one, as a dual-stack server sees IPv4 clients, as its IPv4 form), and
    the /64 of an IPv6 address: a subscriber gets a whole /64 and can rotate through it
    at will (privacy extensions do), so each address of it is the same client. A port
    that a proxy wrote beside the address (``203.0.113.9:4711``, ``[2001:db8::1]:4711``,
    as Azure's gateways do in X-Forwarded-For) is no part of it: each connection has
    its own."""
    address = _address(ip)
    if address is None:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


# --- API logins that were ended: their access tokens stop at their next check ------------
# The account row keeps the families ended within the last access-token lifetime
# ("<family>:<unix time> ..."): every access check reads that row anyway (from the
# per-worker cache on PostgreSQL, evicted when the row changes), so the check is free.


def with_ended_family(ended: str, family_id: str, now: datetime, keep: timedelta) -> str:
    cutoff = (now - keep).timestamp()
    kept = [item for item in ended.split() if _ended_at(item) >= cutoff]
    return " ".join([*kept, f"{family_id}:{int(now.timestamp())}"])


def family_was_ended(ended: str, family_id: object) -> bool:
    return (bool(ended) and isinstance(family_id, str) and len(family_id) == 32
            and f"{family_id}:" in ended)


def _ended_at(item: str) -> float:
    _, _, when = item.partition(":")
    return float(when) if when.isdigit() else 0.0
