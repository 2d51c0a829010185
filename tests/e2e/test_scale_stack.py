"""The production shape, end to end: two app servers (gunicorn, the repository's
configuration) and two delivery workers on one PostgreSQL and one Redis, with a
real SMTP server and a Stripe emulator. Register on one server, verify on the
other, one Stripe customer, log in: nothing depends on which server answers.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import PASSWORD
from tests.e2e import servers

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:  # noqa: ANN001
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (.ci/test installs it)")
    port = servers.free_port()
    redis = servers.Process("redis", [binary, "--port", str(port), "--bind", servers.HOST,
                                      "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                            servers.base_env(), log_dir=tmp_path)
    with redis.start(lambda: servers.port_open(port)):
        yield f"redis://{servers.HOST}:{port}/0"


@pytest.fixture
def stripe_url(tmp_path) -> Iterator[str]:  # noqa: ANN001
    port = servers.free_port()
    stripe = servers.Process("localstripe", [str(servers.BIN / "localstripe"), "--port",
                                             str(port), "--from-scratch"],
                             servers.base_env(), cwd=tmp_path, log_dir=tmp_path)
    with stripe.start(lambda: servers.port_open(port)):
        yield f"http://{servers.HOST}:{port}"


def customers(stripe_url: str, email: str) -> list[dict]:
    found = requests.get(f"{stripe_url}/v1/customers", auth=("sk_test_x", ""), timeout=10)
    found.raise_for_status()
    return [c for c in found.json()["data"] if c.get("email") == email]


def stripe_customer_id(url: str, email: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(
                "SELECT stripe_customer_id FROM users WHERE email = :email"),
                {"email": email}).scalar()
    finally:
        engine.dispose()


def csrf(page: requests.Response) -> str:
    assert page.status_code == 200, page.text
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def staff_deactivation_on_one_server_ends_the_token_on_the_other(
        env: dict[str, str], a: servers.AppServer, b: servers.AppServer, access: str,
        user_id: int) -> None:
    """Server B caches the user (per worker); a staff member deactivates the account on
    server A; B's next checks answer 401 (PostgreSQL's NOTIFY evicted it everywhere)."""
    bearer = {"Authorization": f"Bearer {access}"}
    for _ in range(8):  # every worker of B has seen (and cached) the user by now
        assert requests.get(b.url + "/api/auth/me/", headers=bearer, timeout=30).ok
    servers.flask(["users", "create-admin", "staff@example.com", "--password", PASSWORD], env)
    staff = requests.Session()
    staff.post(a.url + "/login", timeout=30, data={
        "identifier": "staff@example.com", "password": PASSWORD,
        "csrf_token": csrf(staff.get(a.url + "/login", timeout=30))})
    action = f"{a.url}/admin/users/{user_id}/deactivate"
    done = staff.post(action, timeout=30, data={"csrf_token": csrf(staff.get(action, timeout=30))})
    assert done.status_code == 200 and "deactivated" in done.text.lower(), done.text
    assert servers.wait_for(
        lambda: all(requests.get(b.url + "/api/auth/me/", headers=bearer, timeout=30)
                    .status_code == 401 for _ in range(8)), 10, what="the token to end on B")


def test_two_app_servers_and_two_workers_on_postgresql_and_redis(
        tmp_path, scratch_database, redis_url, stripe_url, smtp_server) -> None:  # noqa: ANN001
    database = scratch_database
    env = servers.app_env(
        database, REDIS_URL=redis_url, RATELIMIT_ENABLED="true", DELIVERY="worker",
        MAIL_SERVER=servers.HOST, MAIL_PORT=str(smtp_server.port),
        STRIPE_SECRET_KEY="sk_test_x", STRIPE_API_BASE=stripe_url)
    servers.migrate(env)
    conf = ("-c", "python:webapp.gunicorn_conf")
    apps = [servers.AppServer(env, workers=2, log_dir=tmp_path, extra_args=conf)
            for _ in range(2)]
    workers = [servers.Process(f"worker{n}", [str(servers.BIN / "flask"), "--app", "wsgi",
                                              "worker", "--idle-sleep", "0.2"],
                               env, log_dir=tmp_path) for n in range(2)]
    try:
        for app in apps:
            app.start()
        for worker in workers:
            worker.start(lambda: True)  # no port: running is ready
        a, b = apps
        email = "scale@example.com"
        assert requests.post(a.url + "/api/auth/register/", timeout=30, json={
            "email": email, "password": PASSWORD}).status_code == 201

        [message] = smtp_server.wait_for(email, timeout=30)  # a worker sent it
        code = re.search(r"\b(\d{6})\b", message.text).group(1)
        verified = requests.post(b.url + "/api/auth/email-verify/", timeout=30,
                                 json={"email": email, "code": code})
        assert verified.status_code == 200, verified.text
        again = requests.post(a.url + "/api/auth/email-verify/", timeout=30,
                              json={"email": email, "code": code})
        assert again.status_code == 200, again.text

        customer = servers.wait_for(lambda: stripe_customer_id(database, email), 30,
                                    what="the Stripe customer")
        assert [c["id"] for c in customers(stripe_url, email)] == [customer]

        login = requests.post(b.url + "/api/auth/login/", timeout=30,
                              json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        me = requests.get(a.url + "/api/auth/me/", timeout=30, headers={
            "Authorization": f"Bearer {login.json()['tokens']['access']}"})
        assert me.status_code == 200 and me.json()["email"] == email
        staff_deactivation_on_one_server_ends_the_token_on_the_other(
            env, a, b, login.json()["tokens"]["access"], login.json()["user"]["id"])
    finally:
        for process in [*workers, *apps]:
            process.stop()
    assert all(w.popen.returncode == 0 for w in workers), [w.log() for w in workers]
