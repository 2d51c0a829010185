"""Where two settings come from beyond one variable each: the rate-limit table (defaults,
RATELIMITS, then RATELIMIT_<NAME> one by one) and the development secret key kept in
instance/. Part of webapp/config.py's loading."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from webapp.application.throttling import DEFAULT_LIMITS


def ratelimits(environ: Mapping[str, str], overrides: dict[str, Any],
               problems: list[str]) -> dict[str, str]:
    """The limit table: defaults, then RATELIMITS={...}, then RATELIMIT_<NAME> one by one."""
    table = dict(DEFAULT_LIMITS)
    table.update(overrides.pop("RATELIMITS", None) or {})
    for name in DEFAULT_LIMITS:
        variable = f"RATELIMIT_{name.upper()}"
        if variable in overrides:
            table[name] = str(overrides.pop(variable))
        elif variable in environ:
            table[name] = environ[variable]
    for name, value in table.items():
        if name not in DEFAULT_LIMITS:
            problems.append(f"RATELIMITS: unknown limit {name!r}.")
        elif value != DEFAULT_LIMITS[name] and not _is_rate(value):
            problems.append(f"RATELIMIT_{name.upper()} must be a rate such as '3/hour' or "
                            f"'20/minute;200/hour', not {value!r}.")
    return table


def _is_rate(value: str) -> bool:
    """A rate as the limits library reads it. Asked only of a rate that is not the
    default (every default is one: tests/integration/adapters/test_config.py), so the
    library (~1.6 MiB with wrapt and deprecated) is not loaded to check the defaults by
    an app that never counts (RATELIMIT_ENABLED=false)."""
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        return False
    return True


def dev_secret(instance_path: Path, problems: list[str]) -> str:
    """Generated once and kept in instance/ (0600), so sessions survive a restart in
    development. Published with a hard link: another worker starting at the same moment
    sees either no file or the whole key, never an empty one."""
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        draft = instance_path / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another worker won the race: use its key
        finally:
            draft.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        problems.append(f"{path} holds no usable key: delete it to generate a new one, "
                        "or set SECRET_KEY.")
    return key


def fernet_keys_problem(keys: str) -> str | None:
    """What is wrong with MFA_ENCRYPTION_KEY, or None: each key, as Fernet requires it,
    is 32 bytes in url-safe base64 (checked here so that a bad key stops the app at start,
    not the first sign-in with a second factor, without loading cryptography)."""
    for key in (k.strip() for k in keys.split(",") if k.strip()):
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
        except (binascii.Error, ValueError):  # bad padding or characters; non-ASCII
            raw = b""
        if len(raw) != 32:
            return ("MFA_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes each, "
                    "e.g. from cryptography.fernet.Fernet.generate_key()), comma-separated, "
                    "newest first.")
    return None
