"""Importing a library without an optional dependency that it would load for nothing.

Some libraries import every optional dependency that happens to be installed, for
features this app never asks of them: PyJWT imports cryptography (RSA, EC, EdDSA; the
app signs with HS256 only), ua-parser imports PyYAML (custom regex files; the app uses
its built-in table). Each costs every worker process megabytes.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


def import_without(module: str, *optional: str) -> ModuleType:
    """``module``, imported with each of ``optional`` hidden unless something has already
    loaded it. A name set to None in ``sys.modules`` makes its import raise
    ModuleNotFoundError, which a library that treats the dependency as optional catches.
    The names are removed again at once, so whoever needs one of them later (the second
    factor's Fernet, passkeys) imports it normally."""
    hidden = [name for name in optional if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        return importlib.import_module(module)
    finally:
        for name in hidden:
            if sys.modules.get(name, ModuleType(name)) is None:
                del sys.modules[name]
