"""The API door's fixtures come from tests/integration/api, the browser's from web."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.integration.api.conftest import clock, phone_user  # noqa: F401
from tests.integration.web.conftest import signed_in, submit, text  # noqa: F401


def undo_in_browser(app: Flask, token: str, password: str) -> tuple[FlaskClient, str, Any]:
    """The previous address's owner, not signed in, takes a change back on the undo page
    with a new ``password``: (that browser, the page it was shown, the answer)."""
    browser = app.test_client()
    page = text(browser.get(f"/account/undo/{token}"))
    back = submit(browser, f"/account/undo/{token}",
                  {"new_password": password, "confirm_password": password},
                  page="/login")  # a dead link's page has no form: the session's token
    return browser, page, back
