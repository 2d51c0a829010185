"""The app's Flask class asks whether a view or hook is a coroutine once per function."""

from __future__ import annotations

import flask.app
import pytest
from flask import Flask

from webapp import WebApp


def test_each_hook_and_view_is_checked_once_and_requests_still_run_them(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[object] = []
    real = flask.app.iscoroutinefunction
    monkeypatch.setattr(flask.app, "iscoroutinefunction",
                        lambda func: asked.append(func) or real(func))
    client = app.test_client()

    first = client.get("/healthz")
    checked_once = len(asked)
    second = client.get("/healthz")

    assert isinstance(app, WebApp)
    assert first.status_code == second.status_code == 200
    assert second.headers["X-Content-Type-Options"] == "nosniff"  # the after-request hook ran
    assert second.headers["X-Request-ID"] != first.headers["X-Request-ID"]  # so did before
    assert checked_once > 3 and len(asked) == checked_once  # nothing asked again


def test_a_coroutine_function_is_still_refused_or_wrapped_as_flask_does(app: Flask) -> None:
    async def view() -> str:
        return "never awaited here"

    with pytest.raises(RuntimeError, match="async"):  # Flask without its [async] extra
        app.ensure_sync(view)
