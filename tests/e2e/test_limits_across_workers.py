"""Limits hold across gunicorn workers when they share Redis, as an attacker sees it over HTTP.

Starts a real redis-server and gunicorn with two workers (tests/e2e/servers.py), both
on free loopback ports, and stops them. Between phases the limits are reset by flushing Redis
(the storage reset), never by waiting.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.e2e import servers

pytestmark = pytest.mark.e2e

ACCESS = "ACCESS %(p)s %(s)s %(U)s q=%(q)s"  # the worker's pid on each access-log line


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (.ci/test installs it)")
    port = servers.free_port()
    argv = [binary, "--port", str(port), "--bind", servers.HOST, "--save", "",
            "--appendonly", "no"]
    with servers.Process("redis", argv, servers.base_env(), log_dir=tmp_path) as process:
        process.start(lambda: bool(redis.Redis(port=port).ping()) if servers.port_open(port)
                      else False)
        yield f"redis://{servers.HOST}:{port}/0"


@pytest.fixture
def gunicorn(tmp_path: Path, redis_url: str) -> Iterator[servers.AppServer]:
    """Two workers in production mode, limits on, sharing Redis; with the repository's
    gunicorn configuration, so forked from a master that built the app (and its limiter
    storage) before the fork. Only the access log keeps the plain format read below."""
    env = servers.app_env(
        f"sqlite:///{tmp_path / 'app.db'}", APP_ENV="production",
        APP_BASE_URL="https://accounts.example.test", REDIS_URL=redis_url,
        RATELIMIT_ENABLED="true", RATELIMIT_LOGIN="8/minute", DELIVERY="worker")
    servers.migrate(env)
    with servers.AppServer(env, workers=2, log_dir=tmp_path,
                           extra_args=["-c", "python:webapp.gunicorn_conf",
                                       "--logger-class", "gunicorn.glogging.Logger",
                                       "--access-logfile", "-",
                                       "--access-logformat", ACCESS]) as app:
        app.start()
        yield app


def login(base: str, email: str) -> requests.Response:
    # A new connection each time, so that both workers take turns.
    return requests.post(f"{base}/api/auth/login/", timeout=10,
                         json={"email": email, "password": "not the password"},
                         headers={"Connection": "close"})


def workers_seen(app: servers.AppServer, path: str) -> set[str]:
    fields = [line.split() for line in app.log().splitlines() if line.startswith("ACCESS ")]
    return {f[1] for f in fields if f[3] == path}


def test_limits_and_lockout_are_shared_by_two_workers(gunicorn, redis_url):
    import redis

    base = gunicorn.url
    # /healthz until both workers have booted and answered (one may be slower to start)
    servers.wait_for(lambda: requests.get(f"{base}/healthz", timeout=5,
                                          headers={"Connection": "close"}).ok
                     and len(workers_seen(gunicorn, "/healthz")) == 2,
                     timeout=60, what="both workers answering")
    # phase 1: spraying from one address; 8 a minute, whichever worker answers. Four at a
    # time, so that while one sync worker is busy the other must take connections too
    # (sent one by one, a single worker can answer them all).
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda i: login(base, f"user{i}@example.com"), range(20)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [401] * 8 + [429] * 12
    assert all(int(r.headers["Retry-After"]) > 0 for r in answers if r.status_code == 429)
    servers.wait_for(lambda: len(workers_seen(gunicorn, "/api/auth/login/")) == 2,
                     what="requests answered by both workers")
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

    # gunicorn's own log lines go through the masking filter too
    requests.get(f"{base}/healthz?token=s3cr3t-t0ken&next=%0d%0aforged", timeout=10)
    servers.wait_for(lambda: "q=token=***" in gunicorn.log(), what="the masked access line")
    assert "s3cr3t-t0ken" not in gunicorn.log()
