"""Device labels ("Firefox on Linux") from user-agent strings, by ua-parser (the uap-core
regexes, matched by its Rust extension when present). Used wherever a person reads a
user agent: the session list, new-device notices, activity and the staff pages."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse

UNKNOWN = "Unknown device"


@lru_cache(maxsize=1024)
def device_label(user_agent: str) -> str:
    """A short, human label for a user agent; "Unknown device" when nothing is known."""
    if not user_agent:
        return UNKNOWN
    result = parse(user_agent[:512])
    browser = result.user_agent.family if result.user_agent else ""
    system = result.os.family if result.os else ""
    browser = "" if browser == "Other" else browser
    system = "" if system == "Other" else system
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or user_agent[:40]
