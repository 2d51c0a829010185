"""The breached-password check against a tiny local range API (k-anonymity)."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import Outbox
from webapp.infrastructure.pwned import PwnedPasswords

BREACHED = "purple monkey dishwasher"
PADDED = "a padding-only passphrase"  # listed with count 0: padding, not a breach
FINE = "correct horse battery staple"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest().upper()


class RangeApi(BaseHTTPRequestHandler):
    paths: list[str] = []
    status = 200

    def do_GET(self) -> None:  # noqa: N802
        type(self).paths.append(self.path)
        prefix = self.path.rsplit("/", 1)[-1]
        lines = ["0018A45C4D1DEF81644B54AB7F969B88D65:3"]
        for password, count in ((BREACHED, 42), (PADDED, 0)):
            if sha1(password)[:5] == prefix:
                lines.append(f"{sha1(password)[5:]}:{count}")
        body = "\r\n".join(lines).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def range_api() -> Iterator[str]:
    RangeApi.paths, RangeApi.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), RangeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/range"
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_only_a_five_character_prefix_leaves(range_api):
    checker = PwnedPasswords(range_api)
    assert checker.is_breached(BREACHED) is True
    assert checker.is_breached(FINE) is False
    assert checker.is_breached(PADDED) is False
    assert RangeApi.paths == [f"/range/{sha1(p)[:5]}" for p in (BREACHED, FINE, PADDED)]


def test_register_reset_refuse_breached_passwords(app_factory, range_api):
    app = app_factory(PWNED_PASSWORDS_URL=range_api)
    client = app.test_client()
    refused = client.post("/api/auth/register/", json={"email": "jane@example.com",
                                                       "password": BREACHED})
    assert refused.status_code == 400
    assert "breach" in refused.json["errors"]["password"][0]
    ok = client.post("/api/auth/register/", json={"email": "jane@example.com", "password": FINE})
    assert ok.status_code == 201
    client.post("/api/auth/password-reset/", json={"email": "jane@example.com"})
    token = Outbox(app).link_token("jane@example.com", "/reset/")
    confirm = client.post("/api/auth/password-reset/confirm/", json={
        "token": token, "new_password": BREACHED, "confirm_password": BREACHED})
    assert confirm.status_code == 400 and "new_password" in confirm.json["errors"]
    assert all(BREACHED not in path and sha1(BREACHED) not in path for path in RangeApi.paths)


def test_an_erroring_service_never_blocks_signup(app_factory, range_api):
    RangeApi.status = 500
    app = app_factory(PWNED_PASSWORDS_URL=range_api)
    response = app.test_client().post("/api/auth/register/", json={
        "email": "jane@example.com", "password": BREACHED})
    assert response.status_code == 201
    assert RangeApi.paths  # it was asked


def test_an_unreachable_or_silent_service_never_blocks_signup(app_factory):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts connections, never answers: a timeout
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens: connection refused
    try:
        for port in (silent.getsockname()[1], closed_port):
            checker = PwnedPasswords(f"http://127.0.0.1:{port}/range", timeout=0.5)
            assert checker.is_breached(BREACHED) is False
        app = app_factory(PWNED_PASSWORDS_URL=f"http://127.0.0.1:{closed_port}/range")
        response = app.test_client().post("/api/auth/register/", json={
            "email": "jane@example.com", "password": BREACHED})
        assert response.status_code == 201
    finally:
        silent.close()
