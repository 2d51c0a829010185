"""A WSGI app that is not this one, for test_preload.py: it says whether anything in its
process has imported the ``webapp`` package."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = json.dumps({"worker": os.getpid(), "webapp_imported": "webapp" in sys.modules})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body.encode()]
