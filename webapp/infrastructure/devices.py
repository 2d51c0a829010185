"""Device labels ("Firefox on Linux") from user-agent strings, by ua-parser (the uap-core
regexes). Used wherever a person reads a user agent: the session list, new-device
notices, activity and the staff pages.

Memory matters more than speed here (a label is computed when a browser signs in or a
list is shown, and remembered): ua-parser's pure-Python resolver over its lazily compiled
built-in regexes, loaded on first use (without PyYAML), costs a worker about 3 MiB of
RSS, where compiling every regex up front (its default with a regex backend) costs about
25 MiB. A parse takes about a millisecond once loaded; the first one in a process also
loads the regex table.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from webapp.infrastructure.optional_imports import import_without

UNKNOWN = "Unknown device"
_parser: Any = None
_lock = threading.Lock()


def _get_parser() -> Any:
    global _parser
    with _lock:
        if _parser is None:
            # Without PyYAML, which ua-parser imports for custom regex files (~1.8 MiB).
            import_without("ua_parser.loaders", "yaml")
            from ua_parser import Parser, basic, loaders

            _parser = Parser(basic.Resolver(loaders.load_lazy_builtins()))
    return _parser


@lru_cache(maxsize=1024)
def device_label(user_agent: str | None) -> str:
    """"Firefox on Linux", "Mobile Safari on iOS", "curl"; "Unknown device" when nothing
    is known (no agent, junk)."""
    if not user_agent or not user_agent.strip():
        return UNKNOWN
    result = _get_parser().parse(user_agent[:512])
    browser = result.user_agent.family if result.user_agent else ""
    system = result.os.family if result.os else ""
    browser = "" if browser == "Other" else browser
    system = "" if system == "Other" else system
    if browser:
        return f"{browser} on {system}" if system else browser
    if system:
        return f"Unknown browser on {system}"
    # Nothing known: a client that names itself ("MyApp/1.0") is shown by that name.
    first = user_agent.split()[0][:40] if user_agent.split() else ""
    return first if first.isascii() and first.isprintable() else UNKNOWN
