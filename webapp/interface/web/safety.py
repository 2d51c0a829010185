"""Where a redirect may go, and the headers of pages that hold secrets."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import make_response

MAX_NEXT = 2000
DECODE_ROUNDS = 3


def safe_next(target: str | None, default: str) -> str:
    """``target`` when it is a path on this site, else ``default``.

    Browsers forgive a lot: they drop tabs and newlines, treat ``\\`` as ``/``, and
    ``//host`` is another site. So only a plain, printable-ASCII absolute path is let
    through, and it must stay one however often it is percent-decoded.
    """
    if not target or len(target) > MAX_NEXT:
        return default
    candidate = target
    for _ in range(DECODE_ROUNDS + 1):
        if not _plain_local_path(candidate):
            return default
        decoded = unquote(candidate)
        if decoded == candidate:
            return target
        candidate = decoded
    return default  # still encoded after several rounds: nobody needs that


def _plain_local_path(value: str) -> bool:
    if not value.startswith("/") or value.startswith(("//", "/\\")):
        return False
    if any(not (0x21 <= ord(char) <= 0x7E) for char in value) or "\\" in value:
        return False  # control characters, spaces, non-ASCII look-alikes, backslashes
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def secret_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """A page whose URL carries a secret (an emailed link's token).

    The token must not leak through the Referer header to anything the page links
    to, nor stay in a cache. ``strict-origin`` sends the origin alone: not
    ``no-referrer``, since over HTTPS Flask-WTF refuses a form post without a
    same-origin Referer, and the page's own form would be refused.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        response = make_response(view(*args, **kwargs))
        response.headers["Referrer-Policy"] = "strict-origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    return wrapper
