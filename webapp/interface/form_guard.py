"""One guard for every browser form: text fields carry short text, once each.

The pages' forms (Flask-WTF) expect one string per field. A multipart upload puts a
file where text belongs, a repeated name makes a list, and a megabyte of text would
reach a service; the field validators were not written for any of that (a file used
to end as ``TypeError: object of type 'FileStorage' has no len()``, a 500). So every
non-API request with a form body is checked here once, before any view or CSRF check
reads it, and refused with a 4xx. The JSON API takes JSON only (415 otherwise) and
validates it in its own schemas.
"""

from __future__ import annotations

from flask import Flask, abort, request
from werkzeug.exceptions import RequestEntityTooLarge

# Far above any field of any form (the longest, ``next``, stops at 2000 characters).
MAX_FIELD = 4000
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def check_form_body() -> None:
    """400 for a file or a repeated field, 413 for a field over ``MAX_FIELD`` characters."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith("/api"):
        return
    if request.mimetype not in FORM_TYPES:
        return
    if request.files:
        abort(400, "This form takes text only: files are not accepted.")
    for name, values in request.form.lists():
        if len(values) > 1:
            abort(400, f"The field {name[:40]!r} was sent more than once.")
        if len(values[0]) > MAX_FIELD or len(name) > MAX_FIELD:
            raise RequestEntityTooLarge(f"A field is longer than {MAX_FIELD} characters.")


def register_form_guard(app: Flask) -> None:
    """Run first among the request hooks, so no view or form ever sees such a body."""
    app.before_request_funcs.setdefault(None, []).insert(0, check_form_body)
