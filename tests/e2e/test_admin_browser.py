"""A staff member in Chromium: logs in, finds a user, deactivates them, and the user's
tokens stop working at once. Real gunicorn, real browser (Playwright)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

pytestmark = pytest.mark.e2e

STAFF_PASSWORD = "staff pass phrase for e2e"
USER_PASSWORD = "correct horse battery staple"


@pytest.fixture
def browser_page(browser) -> Iterator[object]:  # noqa: ANN001
    """A page of pytest-playwright's session-wide Chromium (tests/e2e/conftest.py): one
    Playwright per test session, whatever order the browser tests run in."""
    page = browser.new_page()
    yield page
    page.close()


def test_staff_find_and_deactivate_a_user_whose_tokens_then_fail(start_app, browser_page):
    app = start_app(workers=2)
    app.flask("users", "create-admin", "boss@example.com", "--password", STAFF_PASSWORD)
    app.flask("users", "create-admin", "jane@example.com", "--password", USER_PASSWORD)
    app.flask("users", "demote", "jane@example.com")  # a verified, ordinary account
    login = requests.post(f"{app.url}/api/auth/login/", timeout=10, json={
        "email": "jane@example.com", "password": USER_PASSWORD})
    assert login.status_code == 200, login.text
    tokens = login.json()["tokens"]
    bearer = {"Authorization": f"Bearer {tokens['access']}"}
    assert requests.get(f"{app.url}/api/auth/me/", headers=bearer, timeout=10).ok

    page = browser_page
    page.goto(f"{app.url}/admin/users")
    assert "/login" in page.url  # anonymous: sent to the login page, next= kept
    page.get_by_label("Email or phone number").fill("boss@example.com")
    page.get_by_label("Password", exact=True).fill(STAFF_PASSWORD)
    page.get_by_label("Password", exact=True).press("Enter")
    page.wait_for_url(f"{app.url}/admin/users*")

    page.get_by_label("Search").fill("jane@")
    page.get_by_label("Search").press("Enter")
    page.get_by_role("link", name="jane@example.com").click()  # htmx-boosted or plain
    page.get_by_role("link", name="Deactivate").click()
    page.get_by_role("button", name="Yes, deactivate").click()
    page.get_by_text("Deactivated; every session and token is revoked.").wait_for()
    assert "deactivated" in page.content()

    assert requests.get(f"{app.url}/api/auth/me/", headers=bearer, timeout=10
                        ).status_code == 401
    assert requests.post(f"{app.url}/api/auth/token/refresh/", timeout=10,
                         json={"refresh": tokens["refresh"]}).status_code == 401
    assert requests.post(f"{app.url}/api/auth/login/", timeout=10, json={
        "email": "jane@example.com", "password": USER_PASSWORD}).status_code == 401

    page.goto(f"{app.url}/admin/audit?kind=authz_admin")
    assert "action=deactivate" in page.content() and "boss@example.com" in page.content()
    page.goto(f"{app.url}/admin/")
    assert "<strong>1</strong> deactivated" in page.content()  # and on the dashboard
