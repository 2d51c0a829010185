"""The sessions tests run twice: browser sessions in the database, and in a real Redis
(``REDIS_URL``; a redis-server on a free loopback port, stopped after the module)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import make_app
from tests.e2e import servers
from webapp.extensions import db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (.ci/test installs it)")
    port = servers.free_port()
    argv = [binary, "--port", str(port), "--bind", servers.HOST, "--save", "",
            "--appendonly", "no"]
    log_dir = tmp_path_factory.mktemp("redis")
    with servers.Process("redis", argv, servers.base_env(), log_dir=log_dir) as process:
        process.start(lambda: bool(redis.Redis(port=port).ping()) if servers.port_open(port)
                      else False)
        yield f"redis://{servers.HOST}:{port}/0"


@pytest.fixture(params=["database", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    """Where browser sessions live in this run of the test."""
    return request.param


@pytest.fixture
def app(tmp_path: Path, store: str, request: pytest.FixtureRequest) -> Iterator[Flask]:
    overrides = {}
    if store == "redis":
        import redis

        url = request.getfixturevalue("redis_server")
        redis.Redis.from_url(url).flushdb()
        overrides["REDIS_URL"] = url
    app = make_app(tmp_path, **overrides)
    yield app
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name != "postgresql":
            db.drop_all()
        db.engine.dispose()
