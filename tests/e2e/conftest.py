"""Fixtures for end-to-end tests: real servers from tests/e2e/servers.py, always stopped.

A failing test's report carries the log of every server still running at that moment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import servers

# Debian's Chromium (Playwright cannot download its own here), for every browser test:
# pytest-playwright's one session-wide browser, launched with these arguments.
CHROMIUM = "/usr/bin/chromium"
QUIET = ["--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--no-first-run", "--disable-domain-reliability",
         "--metrics-recording-only", "--no-default-browser-check"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/test does it)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": QUIET}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    if call.excinfo is not None:
        for server in list(servers.RUNNING):
            item.add_report_section(call.when, f"{server.name} log", server.log())
    yield


@pytest.fixture(scope="module")
def smtp() -> Iterator[servers.SmtpServer]:
    """One SMTP sink per test module, for the module's own site (``servers.mailing_site``)."""
    with servers.SmtpServer() as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[servers.SmtpServer]:
    with servers.SmtpServer() as smtp:
        yield smtp


@pytest.fixture
def sms_sink() -> Iterator[servers.HttpSink]:
    with servers.HttpSink(name="sms-gateway") as sink:
        yield sink


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[Callable[..., servers.AppServer]]:
    """``start_app(**env)``: a migrated SQLite database in tmp_path and gunicorn serving it."""
    started: list[servers.AppServer] = []

    def _start(workers: int = 2, **env: Any) -> servers.AppServer:
        database = tmp_path / f"app{len(started)}.db"
        app_env = servers.app_env(f"sqlite:///{database}", **env)
        servers.migrate(app_env)
        app = servers.AppServer(app_env, workers=workers, log_dir=tmp_path)
        started.append(app)
        return app.start()

    yield _start
    for app in started:
        app.stop()
