"""gunicorn with the repository's configuration preloads the app in the master; every
worker still serves database requests on connections of its own, also after recycling.

The master of tests/e2e/preload_app.py leaves an open connection in the pool before the
fork, so these tests fail if a worker ever uses it (``post_fork`` must drop the pool).
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e import servers

pytestmark = pytest.mark.e2e

CONFIG = ["-c", "python:webapp.gunicorn_conf"]


def start(tmp_path: Path, database_url: str, **env: Any) -> servers.Process:
    """The app under gunicorn exactly as in production (config file, no command-line
    options), on a free port, after a migration."""
    app_env = servers.app_env(database_url, **env)
    servers.migrate(app_env)
    port = servers.free_port()
    app_env |= {"BIND": f"{servers.HOST}:{port}", "WEB_CONCURRENCY": "2",
                "GUNICORN_GRACEFUL_TIMEOUT": "3"}
    gunicorn = servers.Process("gunicorn", [str(servers.BIN / "gunicorn"), *CONFIG,
                                            "tests.e2e.preload_app:app"],
                               app_env, log_dir=tmp_path)
    gunicorn.url = f"http://{servers.HOST}:{port}"  # type: ignore[attr-defined]
    return gunicorn.start(servers.http_ok(f"http://{servers.HOST}:{port}/healthz"))


def served(url: str, count: int) -> list[dict[str, Any]]:
    """``count`` requests to /_test/connection, 8 at a time; each must succeed."""
    def one(_: int) -> dict[str, Any]:
        response = requests.get(url + "/_test/connection", timeout=30)
        assert response.status_code == 200, response.text
        return response.json()
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def by_worker(url: str, workers: int) -> dict[int, list[dict[str, Any]]]:
    """Concurrent rounds until ``workers`` distinct workers have answered (deadline 60 s)."""
    seen: dict[int, list[dict[str, Any]]] = defaultdict(list)

    def enough() -> bool:
        for answer in served(url, 16):
            seen[answer["worker"]].append(answer)
        return len(seen) >= workers

    servers.wait_for(enough, 60, 0, f"{workers} workers to answer")
    return seen


def assert_own_connections(seen: dict[int, list[dict[str, Any]]]) -> None:
    for worker, answers in seen.items():
        assert {a["opened_by"] for a in answers} == {worker}, "a connection the master opened"
        # Built once, in the master (preload_app), before the fork.
        assert all(a["built_by"] == a["master"] != worker for a in answers)
        assert all(a["users"] == 0 for a in answers)
    backends = [{a["backend"] for a in answers} for answers in seen.values()]
    if None not in backends[0]:  # PostgreSQL: no server process serves two workers
        assert all(a.isdisjoint(b) for i, a in enumerate(backends) for b in backends[i + 1:])


def check(tmp_path: Path, database_url: str) -> None:
    with start(tmp_path, database_url) as gunicorn:
        seen = by_worker(gunicorn.url, 2)  # type: ignore[attr-defined]
        assert_own_connections(seen)
    log = gunicorn.log()
    assert "Traceback" not in log, log


def test_preloaded_workers_use_their_own_connections_on_sqlite(tmp_path: Path) -> None:
    check(tmp_path, f"sqlite:///{tmp_path / 'app.db'}")


@pytest.mark.postgres
def test_preloaded_workers_use_their_own_connections_on_postgresql(
        tmp_path: Path, scratch_database: str) -> None:
    check(tmp_path, scratch_database)


def test_recycled_workers_are_forked_again_and_open_their_own_connections(
        tmp_path: Path) -> None:
    # Recycle after 10 or 11 requests (jitter of 10 %): 120 requests need new workers.
    with start(tmp_path, f"sqlite:///{tmp_path / 'app.db'}",
               GUNICORN_MAX_REQUESTS="10") as gunicorn:
        seen = by_worker(gunicorn.url, 5)  # type: ignore[attr-defined]
        assert_own_connections(seen)
        assert "Autorestarting worker after current request" in gunicorn.log()


def test_another_app_served_with_the_configuration_file_imports_nothing_of_this_one(
        tmp_path: Path) -> None:
    # The benchmark serves its bare Flask yardstick like this; the post_fork hook must not
    # drag the whole app into it (importing webapp.forking runs the package's __init__).
    port = servers.free_port()
    env = servers.app_env(f"sqlite:///{tmp_path / 'app.db'}") | {
        "BIND": f"{servers.HOST}:{port}", "WEB_CONCURRENCY": "2"}
    url = f"http://{servers.HOST}:{port}/"
    config = Path(__file__).resolve().parents[2] / "webapp" / "gunicorn_conf.py"
    with servers.Process("gunicorn", [str(servers.BIN / "gunicorn"), "-c", str(config),
                                      "tests.e2e.other_app:app"],
                         env, log_dir=tmp_path).start(servers.http_ok(url)) as gunicorn:
        answers = [requests.get(url, timeout=30).json() for _ in range(16)]
    assert {a["webapp_imported"] for a in answers} == {False}, answers
    assert "Traceback" not in gunicorn.log()
