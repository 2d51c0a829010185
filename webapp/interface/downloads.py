"""Files the doors hand out: the "download my data" export (API and account page alike)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response


def export_response(data: dict[str, Any]) -> Response:
    """The export as one JSON attachment, never cached."""
    return Response(json.dumps(data, indent=2, ensure_ascii=False), mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-data.json"',
                             "Cache-Control": "no-store"})
