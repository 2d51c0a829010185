"""Error pages in the site's look for HTML requests; JSON stays JSON on /api."""

from __future__ import annotations

import re

import pytest
from flask import abort

from tests.integration.web.conftest import login, own_app, text

PAGES = {
    400: "That request did not work",
    403: "You cannot open this page",
    404: "Page not found",
    429: "Too many attempts",
    500: "Something went wrong on our side",
}


@pytest.fixture
def failing(app):
    def fail(status: int):
        if status == 500:
            raise RuntimeError("boom")
        abort(status)

    app.add_url_rule("/fail/<int:status>", "fail", fail)
    return app.test_client()


@pytest.mark.parametrize(("status", "heading"), PAGES.items())
def test_html_error_pages(failing, status, heading):
    response = failing.get(f"/fail/{status}")
    assert response.status_code == status
    assert response.mimetype == "text/html"
    page = text(response)
    assert heading in page
    assert f"Error {status}" in page
    assert 'href="/static/css/site.css' in page  # the site's look
    assert "RuntimeError" not in page and "Traceback" not in page


def test_an_unknown_status_gets_the_generic_page(failing):
    response = failing.get("/fail/418")
    assert response.status_code == 418
    assert "Error 418" in text(response)


def test_api_errors_stay_json(client):
    response = client.get("/api/no-such-endpoint")
    assert response.status_code == 404
    assert response.is_json


def test_the_login_page_is_rate_limited_with_a_429_page(tmp_path):
    with own_app(tmp_path, RATELIMIT_ENABLED=True, RATELIMITS={"login": "2/minute"}) as app:
        client = app.test_client()
        statuses = [login(client, "x@example.com", "wrong password!").status_code
                    for _ in range(3)]
        assert statuses[:2] == [422, 422]
        assert statuses[2] == 429
        response = login(client, "x@example.com", "wrong password!")
        assert response.status_code == 429
        assert "Too many attempts" in text(response)
        assert int(response.headers["Retry-After"]) > 0


@pytest.mark.parametrize("incoming", [None, "trace-77"])
def test_a_form_refused_for_its_csrf_token_still_names_its_request(client, incoming):
    # The CSRF check runs before the hook that names the request: the 400 page went out
    # with an empty X-Request-ID (in the access log too), and a client's own was dropped.
    headers = {"X-Request-ID": incoming} if incoming else {}
    response = client.post("/login", data={"identifier": "jane@example.com"}, headers=headers)
    assert response.status_code == 400 and "That request did not work" in text(response)
    named = response.headers["X-Request-ID"]
    assert named == incoming if incoming else re.fullmatch(r"[0-9a-f]{32}", named)
