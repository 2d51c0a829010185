"""The README's first command, `bash .ci/serve`, on a port of the user's choosing.

The links in its emails (and the origin passkeys check) must name the port it serves on:
with the default APP_BASE_URL they named port 5000 whatever PORT said, and a new user's
first verification link led nowhere."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
import requests

from tests.e2e.servers import ROOT, Process, base_env, free_port, http_ok

pytestmark = pytest.mark.e2e


def _serve(port: int, **env: str) -> Process:
    database = Path(tempfile.mkdtemp(prefix="serve-")) / "app.db"
    return Process("serve", ["bash", str(ROOT / ".ci" / "serve")], base_env(
        PORT=port, SECRET_KEY="serve-script-test-" + "k" * 32,
        DATABASE_URL=f"sqlite:///{database}", **env))


def _verification_link(base: str, email: str) -> str:
    response = requests.post(f"{base}/api/auth/register/", timeout=10, json={
        "email": email, "password": "quiet lanterns at dusk"})
    assert response.status_code == 201, response.text
    page = requests.get(f"{base}/dev/outbox", timeout=10).text
    links = re.findall(r"https?://[^\s\"'<>]+/verify/[A-Za-z0-9._-]+", page)
    assert links, page[:2000]
    return links[0]


def test_emailed_links_follow_the_port_it_serves_on() -> None:
    port = free_port()
    with _serve(port) as server:
        server.start(http_ok(f"http://127.0.0.1:{port}/healthz"), timeout=90)
        link = _verification_link(f"http://127.0.0.1:{port}", "ann@example.com")
        assert link.startswith(f"http://localhost:{port}/verify/")
        assert f"Links in emails point to http://localhost:{port}" in server.log()
        # The link works where it points: its button verifies the address.
        browser = requests.Session()
        page = browser.get(link, timeout=10)
        assert page.status_code == 200, page.text[:500]
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        assert token, page.text[:2000]
        done = browser.post(link, data={"csrf_token": token.group(1)}, timeout=10)
        assert done.status_code == 200 and "verified" in done.text.lower(), done.text[:2000]


def test_an_explicit_app_base_url_is_kept() -> None:
    port = free_port()
    with _serve(port, APP_BASE_URL="https://accounts.example.com") as server:
        server.start(http_ok(f"http://127.0.0.1:{port}/healthz"), timeout=90)
        link = _verification_link(f"http://127.0.0.1:{port}", "bo@example.com")
        assert link.startswith("https://accounts.example.com/verify/")
