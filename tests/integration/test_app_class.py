"""The app's Flask plumbing: a coroutine check once per function, no session on the API."""

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


def test_an_api_answer_does_not_read_the_session_nor_vary_on_the_cookie(app: Flask) -> None:
    client = app.test_client()

    api = client.post("/api/auth/login/", json={"email": "nobody@example.com",
                                                "password": "not the password"})
    page = client.get("/login")  # the form's CSRF token is kept in the session

    assert api.status_code == 401 and "Cookie" not in api.headers.get("Vary", "")
    assert page.status_code == 200 and "Cookie" in page.headers.get("Vary", "")


def test_flask_logins_remember_cookie_is_still_kept_for_browsers(app: Flask) -> None:
    from flask import Response, session

    from webapp.extensions import login_manager

    with app.test_request_context("/account"):
        session["_remember"] = "clear"  # what logout_user leaves for the hook
        cleared = login_manager._update_remember_cookie(Response())  # noqa: SLF001
    with app.test_request_context("/api/auth/me/"):
        session["_remember"] = "clear"
        untouched = login_manager._update_remember_cookie(Response())  # noqa: SLF001

    assert any(c.startswith("remember_token=;") for c in cleared.headers.getlist("Set-Cookie"))
    assert not untouched.headers.getlist("Set-Cookie")
