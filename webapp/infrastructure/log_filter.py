"""A logging filter that keeps secrets out of logs and log lines whole.

Installed at start-up on every handler of the root logger (and of gunicorn's
loggers), so it sees records from every library. It:

- masks the values of secret-looking keys (``password``, ``token``, ``code``,
  ``refresh``, ``access``, ``secret``, ``Authorization``, ``*_password``,
  ``*_token`` ...) in ``key=value``, ``key: value``, JSON and query-string text,
  in the formatted message and in ``extra=`` fields;
- masks Stripe-style keys (``sk_live_...``, ``whsec_...``), bare JWTs and the
  tokens of emailed links (``/reset/<token>``, ``/verify/<token>``, an address change's
  confirm and undo links, a deletion's cancel link);
- drops terminal colour codes (Werkzeug's banner has them) and escapes the other control
  characters (CR, LF, ESC ...) as ``\\r``, ``\\n``, ``\\x1b``, so a value cannot forge a
  second log line.

In development only, ``install_dev_console`` gives two loggers readable multi-line output:
Werkzeug's (its banner and request lines, still masked) and ``webapp.delivery.console``
(the console mailer's whole messages, codes and links shown, as on /dev/outbox).
"""

from __future__ import annotations

import logging
import re
from typing import Any

MASK = "***"

_KEY = (r"(?:[\w-]*(?:password|passwd|secret|token)[\w-]*"
        r"|code|otp|refresh|access|authorization|api[_-]?key|cookie|set-cookie)")
# key, optional closing quote, separator, optional opening quote, value
_PAIR = re.compile(
    rf"""(?P<key>(?<![\w-]){_KEY})(?P<q1>["']?)(?P<sep>\s*[:=]\s*)"""
    r"""(?:(?P<dq>"(?:[^"\\]|\\.)*")|(?P<sq>'(?:[^'\\]|\\.)*')"""
    r"""|(?P<scheme>(?:Bearer|Basic|Token)\s+)?(?P<bare>[^\s&,;"'}\])]+))""",
    re.IGNORECASE,
)
_PATTERNS = [
    (re.compile(r"\b((?:sk|rk|pk)_(?:live|test)_|whsec_)[A-Za-z0-9]+"), r"\1" + MASK),
    (re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"), "<jwt " + MASK + ">"),
    # Every emailed link's path (a long payload is compressed, ".eJ...": no JWT look).
    (re.compile(r"(/(?:reset|verify|invite|account/undo|account/delete/cancel"
                r"|account/email/confirm)/)(?!code\b|resend\b)[\w.-]{16,}"), r"\1" + MASK),
    (re.compile(r"\b(Bearer|Basic)\s+[\w.~+/=-]{8,}", re.IGNORECASE), r"\1 " + MASK),
]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour and bold: noise in a log, never information
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SECRET_NAME = re.compile(rf"^{_KEY}$", re.IGNORECASE)
_RECORD_FIELDS = set(vars(logging.LogRecord("x", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}


def _mask_pair(match: re.Match[str]) -> str:
    head = match.group("key") + match.group("q1") + match.group("sep")
    if match.group("dq") is not None:
        return f'{head}"{MASK}"'
    if match.group("sq") is not None:
        return f"{head}'{MASK}'"
    return head + (match.group("scheme") or "") + MASK


# Every pattern above needs one of these (lower-cased) pieces of text, so an ASCII line
# with none of them has nothing to mask: one cheap scan instead of five regular
# expressions (gunicorn's access log line goes through here on every request).
_TRIGGERS = ("passw", "secret", "token", "code", "otp", "refresh", "access", "authorization",
             "key", "cookie", "_live_", "_test_", "whsec_", "eyj", "/reset/", "/verify/",
             "/invite/", "/undo/", "/cancel/", "/confirm/", "bearer", "basic")


def _maybe_secret(text: str) -> bool:
    if not text.isascii():  # IGNORECASE matches beyond ASCII (e.g. "\u017f" is "s"): no shortcut
        return True
    lowered = text.lower()
    return any(piece in lowered for piece in _TRIGGERS) or _CONTROL.search(text) is not None


def mask_text(text: str) -> str:
    """Secrets masked, control characters escaped."""
    if not _maybe_secret(text):
        return text
    text = _ANSI.sub("", text)
    text = _PAIR.sub(_mask_pair, text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _CONTROL.sub(lambda m: _ESCAPES.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def mask_value(name: str, value: Any) -> Any:
    """An ``extra=`` field: masked whole when its name is secret, else masked inside."""
    if _SECRET_NAME.match(name):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_value("", v) for v in value)
    return value


class SecretMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken format string: keep what there is
            message = f"{record.msg} {record.args}"
        record.msg, record.args = mask_text(message), None
        for name in set(vars(record)) - _RECORD_FIELDS:
            setattr(record, name, mask_value(name, getattr(record, name)))
        return True


def install_log_filter(*logger_names: str) -> None:
    """Add the filter to every handler of the root logger and of the named loggers (once)."""
    for name in ("", "gunicorn.error", "gunicorn.access", *logger_names):
        for handler in logging.getLogger(name or None).handlers:
            if not any(isinstance(f, SecretMaskingFilter) for f in handler.filters):
                handler.addFilter(SecretMaskingFilter())


DEV_CONSOLE = "webapp.delivery.console"


class ReadableConsoleFilter(logging.Filter):
    """Development console: one log record may span lines. Each line is masked (or, for the
    dev mailer's messages, only cleaned of control characters) on its own."""

    def __init__(self, *, mask: bool) -> None:
        super().__init__()
        self.mask = mask

    def filter(self, record: logging.LogRecord) -> bool:
        lines = _ANSI.sub("", record.getMessage()).split("\n")
        clean = mask_text if self.mask else _escape_controls
        record.msg, record.args = "\n".join(clean(line) for line in lines), None
        return True


def _escape_controls(text: str) -> str:
    return _CONTROL.sub(lambda m: _ESCAPES.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def install_dev_console() -> None:
    """Development only: Werkzeug's banner and the console mailer's messages, readable."""
    for name, mask in (("werkzeug", True), (DEV_CONSOLE, False)):
        logger = logging.getLogger(name)
        if any(isinstance(f, ReadableConsoleFilter) for h in logger.handlers for f in h.filters):
            continue
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(ReadableConsoleFilter(mask=mask))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
