"""Limits hold across gunicorn workers, with Redis and without, as an attacker sees it over HTTP.

Starts gunicorn with two workers (tests/e2e/servers.py), with a real redis-server or
without one, on free loopback ports, and stops them. With Redis, the per-client limits
count there and the lockout in the database; without it, everything counts in the
database's counters (here a SQLite file beside the database). Between phases the
limits are reset by flushing the storage, never by waiting. Distinct clients are
distinct source addresses (127.0.100.N), not forwarded headers.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

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


def two_workers(tmp_path: Path, **env_overrides: str) -> servers.AppServer:
    """Two workers in production mode, limits on; with the repository's gunicorn
    configuration, so forked from a master that built the app (and its limiter storage)
    before the fork. Only the access log keeps the plain format read below."""
    database = tmp_path / "app.db"
    env = servers.app_env(
        f"sqlite:///{database}", APP_ENV="production",
        APP_BASE_URL="https://accounts.example.test",
        RATELIMIT_ENABLED="true", RATELIMIT_LOGIN="8/minute", DELIVERY="worker",
        **env_overrides)
    servers.migrate(env)
    servers.flask(["users", "create-admin", "jane@example.com", "--password", PASSWORD], env)
    app = servers.AppServer(env, workers=2, log_dir=tmp_path,
                            extra_args=["-c", "python:webapp.gunicorn_conf",
                                        "--logger-class", "gunicorn.glogging.Logger",
                                        "--access-logfile", "-",
                                        "--access-logformat", ACCESS])
    app.database = database  # type: ignore[attr-defined]
    return app


@pytest.fixture
def gunicorn(tmp_path: Path, redis_url: str) -> Iterator[servers.AppServer]:
    """Sharing Redis for the per-client limits."""
    with two_workers(tmp_path, REDIS_URL=redis_url) as app:
        app.start()
        yield app


@pytest.fixture
def gunicorn_without_redis(tmp_path: Path) -> Iterator[servers.AppServer]:
    """No REDIS_URL: every limit counts in the database's counters. Real argon2 costs, so
    that a password check takes as long as in production (the window parallel guesses
    would race through)."""
    with two_workers(tmp_path, ARGON2_MEMORY_COST="19456", ARGON2_TIME_COST="2") as app:
        app.start()
        yield app


PASSWORD = "correct horse battery staple"


def counter_keys(database: Path, part: str) -> list[str]:
    with sqlite3.connect(f"{database}-limits") as connection:
        keys = [row[0] for row in connection.execute("SELECT key FROM rate_counters")]
    return [key for key in keys if part in key]


def reset_counters(database: Path) -> None:
    connection = sqlite3.connect(f"{database}-limits")
    with connection:
        connection.execute("DELETE FROM rate_counters")
    connection.close()


def from_address(address: str) -> requests.Session:
    """A client whose connections leave from ``address`` (any 127.x.y.z is loopback)."""

    class SourceAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            kwargs["source_address"] = (address, 0)
            return super().init_poolmanager(*args, **kwargs)

    session = requests.Session()
    session.mount("http://", SourceAdapter())
    session.headers["Connection"] = "close"  # a new connection each time: workers take turns
    return session


def parallel_guesses(base: str, email: str) -> int:
    """Wrong passwords checked (401s) before the lock, from 8 clients at once."""

    def guess_until_locked(n: int) -> int:
        client, checked = from_address(f"127.0.101.{n}"), 0
        for _ in range(200):
            answer = client.post(f"{base}/api/auth/login/", timeout=10,
                                 json={"email": email, "password": "not the password"})
            if answer.status_code == 401:
                checked += 1
            elif answer.status_code == 429 and int(answer.headers["Retry-After"]) > 1:
                return checked  # locked
            else:
                assert answer.status_code == 429, answer.text  # busy: try again
        raise AssertionError("never locked")

    with ThreadPoolExecutor(max_workers=8) as pool:
        return sum(pool.map(guess_until_locked, range(1, 9)))


def both_workers_up(app: servers.AppServer) -> None:
    servers.wait_for(lambda: requests.get(f"{app.url}/healthz", timeout=5,
                                          headers={"Connection": "close"}).ok
                     and len(workers_seen(app, "/healthz")) == 2,
                     timeout=60, what="both workers answering")


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
    # the lockout lives in the database, not in Redis: Redis going down cannot open it
    assert not store.keys("*lock:*")
    assert counter_keys(gunicorn.database, "lock:")

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


def test_without_redis_two_workers_hold_every_limit_exactly(gunicorn_without_redis):
    app = gunicorn_without_redis
    base, database = app.url, app.database
    both_workers_up(app)
    assert "count in the SQLite file app.db-limits" in app.log()  # said at start-up

    # 16 wrong passwords for one account from 16 client addresses: exactly 5 are checked
    answers = [from_address(f"127.0.100.{n}").post(
        f"{base}/api/auth/login/", timeout=10,
        json={"email": "jane@example.com", "password": "not the password"})
        for n in range(1, 17)]
    assert [r.status_code for r in answers] == [401] * 5 + [429] * 11
    right = {"email": "jane@example.com", "password": PASSWORD}
    assert {from_address("127.0.100.99").post(f"{base}/api/auth/login/", json=right,
                                              timeout=10).status_code
            for _ in range(4)} == {429}  # locked for everyone, through either worker

    # the same in parallel: 8 clients guessing at once, each trying again while its guess
    # was refused only because another one was being checked (Retry-After: 1), until the
    # lock: still exactly 5 passwords checked
    assert parallel_guesses(base, "parallel@example.com") == 5
    # (one request at a time, the kernel may hand every connection to the same worker;
    # eight clients at once keep both busy, so both have counted by now)
    servers.wait_for(lambda: len(workers_seen(app, "/api/auth/login/")) == 2,
                     what="guesses answered by both workers")

    # 12 reset requests for one address from 12 client addresses: 3 messages, 9 refusals
    with ThreadPoolExecutor(max_workers=4) as pool:  # four at a time: both workers answer
        answers = list(pool.map(lambda n: from_address(f"127.0.100.{n}").post(
            f"{base}/api/auth/password-reset/", json={"email": "jane@example.com"},
            timeout=10), range(20, 32)))
    assert sorted(r.status_code for r in answers) == [202] * 3 + [429] * 9
    with sqlite3.connect(database) as connection:
        queued = connection.execute(
            "SELECT count(*) FROM outbox WHERE payload LIKE '%\"template\": \"reset\"%'"
        ).fetchone()[0]
    assert queued == 3
    servers.wait_for(lambda: len(workers_seen(app, "/api/auth/password-reset/")) == 2,
                     what="resets answered by both workers")

    # one client, 20 logins four at a time, each claiming another address in
    # X-Forwarded-For (no proxy is trusted): its 8 a minute, whichever worker answers
    reset_counters(database)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda i: from_address("127.0.100.200").post(
            f"{base}/api/auth/login/", timeout=10, headers={"X-Forwarded-For": f"10.9.0.{i}"},
            json={"email": f"user{i}@example.com", "password": "x" * 12}), range(20)))
    assert sorted(r.status_code for r in answers) == [401] * 8 + [429] * 12
    assert "Traceback" not in app.log()
