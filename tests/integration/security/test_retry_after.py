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


def test_a_services_refusal_keeps_its_own_retry_after(app_factory):
    """A guess that arrives while another one at the same address is checked is told to
    retry in 1 second (README). Flask-Limiter raised every Retry-After of a limited view to
    the reset of its own per-address window, which had room: up to a minute."""
    from tests.integration.web.conftest import submit
    from webapp.application.throttling import CHECK_SLOT_TTL, _key

    app = app_factory(RATELIMIT_ENABLED=True)
    client = app.test_client()
    wrong = {"email": "nobody@example.com", "password": "wrong password!"}
    assert client.post("/api/auth/login/", json=wrong).status_code == 401  # window opened
    throttle = app.extensions["services"].accounts.ports.throttle
    with app.app_context():  # a guess at jane@example.com is being checked
        throttle.limiter.count(_key("checking", "jane@example.com"), CHECK_SLOT_TTL)
    busy = client.post("/api/auth/login/", json={**wrong, "email": "jane@example.com"})
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
    page = submit(client, "/login", {"identifier": "jane@example.com", "password": "wrong!"})
    assert page.status_code == 429 and page.headers["Retry-After"] == "1"
