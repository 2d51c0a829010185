"""Carried over: Flask-Limiter's headers put ``Retry-After`` on successful answers of
every limited view; only a refusal (429, 503) may carry it."""

from __future__ import annotations

from tests.conftest import PASSWORD


def test_retry_after_only_on_refusals(app_factory, register, outbox):  # noqa: ARG001
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMITS={"login": "2/minute"})
    client = app.test_client()
    client.post("/api/auth/register/", json={"email": "jane@example.com", "password": PASSWORD})
    body = {"email": "jane@example.com", "password": PASSWORD}
    first = client.post("/api/auth/login/", json=body)
    assert first.status_code == 403  # unverified, after a right password: not a refusal
    assert "Retry-After" not in first.headers
    assert "X-RateLimit-Remaining" in first.headers  # Flask-Limiter's own headers stay
    second = client.post("/api/auth/login/", json={**body, "password": "wrong password!"})
    assert second.status_code == 401 and "Retry-After" not in second.headers
    refused = client.post("/api/auth/login/", json=body)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert client.post("/api/auth/register/", json={"email": "x@example.com",
                                                     "password": PASSWORD}).status_code == 201
    page = client.get("/login")
    assert page.status_code == 200 and "Retry-After" not in page.headers
