"""The dev outbox page: shown in development with console delivery, 404 everywhere else."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, Outbox, make_app
from webapp.extensions import db


@pytest.fixture
def dev_app(tmp_path: Path):  # noqa: ANN201
    app = make_app(tmp_path, APP_ENV="development")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def page_text(response) -> str:  # noqa: ANN001
    return unescape(response.get_data(as_text=True))


def test_lists_emails_and_sms_newest_first_with_their_links_and_codes(dev_app):
    client = dev_app.test_client()
    assert client.post("/api/auth/register/", json={
        "email": "jane@example.com", "password": PASSWORD}).status_code == 201
    assert client.post("/api/auth/register/", json={
        "phone": "+14155550123", "password": PASSWORD}).status_code == 201
    outbox = Outbox(dev_app)
    email_code = outbox.code("email", "jane@example.com")
    sms_code = outbox.code("sms", "+14155550123")
    token = outbox.link_token("jane@example.com", "/verify/")

    response = client.get("/dev/outbox")

    assert response.status_code == 200
    text = page_text(response)
    assert text.index("+14155550123") < text.index("jane@example.com")  # newest first
    assert f'<strong class="code">{email_code}</strong>' in text
    assert f'<strong class="code">{sms_code}</strong>' in text
    assert f'<a href="http://testserver/verify/{token}">' in text
    assert "Verify your email address" in text  # the subject
    assert text.count('<span class="status">pending</span>') == 2


def test_the_html_part_of_an_email_is_viewable_without_scripts(dev_app):
    client = dev_app.test_client()
    client.post("/api/auth/register/", json={"email": "jane@example.com", "password": PASSWORD})
    email = Outbox(dev_app).last("email", "jane@example.com")
    listing = page_text(client.get("/dev/outbox"))
    href = f"/dev/outbox/{email.id}/html"
    assert f'href="{href}"' in listing

    response = client.get(href)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "Verify my email" in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"].startswith("sandbox;")
    assert client.get("/dev/outbox/999999/html").status_code == 404


def test_sent_messages_stay_readable_and_show_as_sent(dev_app):
    client = dev_app.test_client()
    client.post("/api/auth/register/", json={"email": "jane@example.com", "password": PASSWORD})
    code = Outbox(dev_app).code("email", "jane@example.com")
    result = dev_app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output

    text = page_text(client.get("/dev/outbox"))

    assert '<span class="status">sent</span>' in text
    assert code in text
    assert re.search(r"sent <time datetime=\"[^\"]+\">", text)


@pytest.mark.parametrize("overrides", [
    pytest.param({"APP_ENV": "production", "APP_BASE_URL": "https://accounts.example.com"},
                 id="production"),
    pytest.param({"APP_ENV": "testing"}, id="testing"),
    pytest.param({"APP_ENV": "development", "MAIL_SERVER": "127.0.0.1"},
                 id="development-with-smtp"),
    pytest.param({"APP_ENV": "development", "SMS_BACKEND": "http",
                  "SMS_HTTP_URL": "http://127.0.0.1:9/sms"}, id="development-with-sms-gateway"),
])
def test_absent_outside_development_or_with_real_backends(tmp_path, overrides):
    app = make_app(tmp_path, **overrides)
    client = app.test_client()
    client.post("/api/auth/register/", json={"email": "jane@example.com", "password": PASSWORD})
    message = Outbox(app).last("email", "jane@example.com")
    try:
        assert client.get("/dev/outbox").status_code == 404
        assert client.get(f"/dev/outbox/{message.id}/html").status_code == 404
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
