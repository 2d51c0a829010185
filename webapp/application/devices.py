"""A person's name for the device behind a user agent: "Firefox on Linux".

A pure helper (no I/O) over ua-parser, the maintained uap-core rules, so the staff
pages and anything that tells a user about their sessions name devices the same way.
"""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse

UNKNOWN = "Unknown device"
MAX_AGENT = 1024  # longer strings are not real browsers; parse only their start


@lru_cache(maxsize=1024)
def device_label(user_agent: str | None) -> str:
    """"Firefox on Linux", "Mobile Safari on iOS", "curl"; "Unknown device" if unreadable."""
    if not user_agent or not user_agent.strip():
        return UNKNOWN
    result = parse(user_agent[:MAX_AGENT])
    browser = result.user_agent.family if result.user_agent else None
    system = result.os.family if result.os else None
    if browser in (None, "Other"):
        return f"Unknown browser on {system}" if system not in (None, "Other") else UNKNOWN
    return f"{browser} on {system}" if system not in (None, "Other") else browser
