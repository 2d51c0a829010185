"""Response hardening: security headers, body size, no debug output, no version banner."""

from __future__ import annotations

import pytest

BROWSER_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}


def assert_hardened(response) -> None:
    for name, value in BROWSER_HEADERS.items():
        assert response.headers.get(name) == value, name
    csp = response.headers["Content-Security-Policy"]
    if response.mimetype == "application/json" and response.request.path.startswith("/api/"):
        # OWASP's REST policy: a JSON answer loads nothing and is framed by nobody
        assert csp == "default-src 'none'; frame-ancestors 'none'"
        return
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/api/auth/me/", 401),
    ("POST", "/api/auth/login/", 400),
    ("GET", "/healthz", 200),
    ("GET", "/api/openapi.json", 200),
    ("GET", "/no-such-page", 404),
])
def test_security_headers_on_api_and_html_answers(client, method, path, status):
    response = client.open(path, method=method, json={} if method == "POST" else None)
    assert response.status_code == status
    assert_hardened(response)
    if path.startswith("/api/"):
        assert response.headers["Cache-Control"] == "no-store"
    else:
        assert response.mimetype in ("text/html", "application/json")


def test_html_pages_carry_the_csp(app, client):
    @app.route("/a-page")
    def a_page():
        return "<!doctype html><p>hello</p>"

    response = client.get("/a-page")
    assert response.mimetype == "text/html"
    assert_hardened(response)


def test_no_hsts_in_development(app_factory):
    app = app_factory(APP_ENV="development")
    response = app.test_client().get("/healthz")
    assert "Strict-Transport-Security" not in response.headers
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_body_size_is_capped(app, client):
    @app.route("/a-form", methods=["POST"])
    def a_form():
        from flask import request

        return str(len(request.form.get("x", "")))

    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    assert client.post("/a-form", data={"x": big}).status_code == 413
    api = client.post("/api/auth/login/", data=big, content_type="application/json")
    assert api.status_code == 413 and api.json["code"] == "too_large"


@pytest.mark.parametrize("path", ["/api/boom", "/boom"])
def test_no_stack_trace_or_debug_page(app, client, path):
    @app.route(path)
    def boom():
        raise RuntimeError("internal detail: db password is hunter2")

    response = client.get(path)
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "hunter2" not in body and "RuntimeError" not in body
    assert not app.debug
    assert_hardened(response)


def test_no_debug_outside_development(app_factory):
    app = app_factory(APP_ENV="testing", DEBUG=True)
    assert app.debug is False


def test_the_log_filter_is_installed_by_create_app(app_factory):
    import io
    import logging

    from webapp.infrastructure.log_filter import SecretMaskingFilter

    handler = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        app_factory()
        assert any(isinstance(f, SecretMaskingFilter) for f in handler.filters)
        logging.getLogger("webapp.anything").warning("password=%s", "hunter2-secret")
        assert "hunter2-secret" not in handler.stream.getvalue()
    finally:
        root.removeHandler(handler)
