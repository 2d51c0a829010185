"""Limits hold across gunicorn workers when they share Redis, as an attacker sees it over HTTP.

Starts a real redis-server and gunicorn with two workers, both on free loopback
ports, and stops them. Between phases the limits are reset by flushing Redis
(the storage reset), never by waiting.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, what: str, seconds: float = 30) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, requests.RequestException):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} did not come up")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.fixture
def redis_url() -> Iterator[str]:
    import redis

    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (.ci/test installs it)")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: redis.Redis(port=port).ping(), "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)


@pytest.fixture
def gunicorn(tmp_path: Path, redis_url: str) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / "access.log"
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": "e2e-secret-key-" + "s" * 40,
        "APP_BASE_URL": "https://accounts.example.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "REDIS_URL": redis_url,
        "RATELIMIT_ENABLED": "true",
        "RATELIMIT_LOGIN": "8/minute",
        "DELIVERY": "worker",
    }
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "--access-logfile", str(log), "--access-logformat", "%(p)s %(s)s %(U)s", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(f"{base}/healthz", timeout=5).status_code == 200,
                   "gunicorn")
        yield base, log
    finally:
        stop(process)


def login(base: str, email: str) -> requests.Response:
    # A new connection each time, so that both workers take turns.
    return requests.post(f"{base}/api/auth/login/", timeout=10,
                         json={"email": email, "password": "not the password"},
                         headers={"Connection": "close"})


def workers_seen(log: Path, path: str) -> set[str]:
    lines = log.read_text().splitlines() if log.exists() else []
    return {line.split()[0] for line in lines if line.endswith(path)}


def test_limits_and_lockout_are_shared_by_two_workers(gunicorn, redis_url):
    import redis

    base, log = gunicorn
    # phase 1: spraying from one address; 8 a minute, whichever worker answers
    answers = [login(base, f"user{i}@example.com") for i in range(20)]
    assert [r.status_code for r in answers] == [401] * 8 + [429] * 12
    assert all(int(r.headers["Retry-After"]) > 0 for r in answers[8:])
    wait_until(lambda: len(workers_seen(log, "/api/auth/login/")) == 2,
               "access log of both workers", seconds=10)
    store = redis.Redis.from_url(redis_url)
    assert store.keys("*webapp-ip*")  # Flask-Limiter's counters live in Redis

    # phase 2: one account guessed through both workers; the lockout is shared
    store.flushdb()  # the storage reset: a fresh minute without waiting for it
    answers = [login(base, "jane@example.com") for _ in range(7)]
    assert [r.status_code for r in answers] == [401] * 5 + [429] * 2
    assert answers[5].headers["Retry-After"] in ("59", "60")  # the 1-minute lock
    assert store.keys("*webapp/lock:*")

    # hardening, as served by gunicorn
    response = answers[0]
    server = response.headers.get("Server", "")
    assert not re.search(r"\d", server), server  # no version banner
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Traceback" not in response.text
