"""The gunicorn configuration's start-up warning (contract: "sqlite with several workers
is fine but warned about" in production)."""

from __future__ import annotations

from typing import Any

import pytest

from webapp.gunicorn_conf import when_ready


class _Log:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str, *args: Any) -> None:
        self.warnings.append(message % args)


class _Server:
    def __init__(self, workers: int) -> None:
        self.log = _Log()
        self.cfg = type("cfg", (), {"workers": workers})()


@pytest.mark.parametrize("url", ["", "sqlite:////srv/app.db", "sqlite:///app.db"])
def test_production_on_sqlite_with_several_workers_is_warned_about(monkeypatch, url):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", url)
    server = _Server(workers=5)
    when_ready(server)
    assert len(server.log.warnings) == 1
    assert "SQLite in production with 5 workers" in server.log.warnings[0]
    assert "PostgreSQL" in server.log.warnings[0]


@pytest.mark.parametrize(("env", "url", "workers"), [
    ("production", "postgresql+psycopg://app@db/app", 5),  # the production target
    ("production", "sqlite:////srv/app.db", 1),             # one worker: nothing shared
    ("development", "sqlite:////srv/app.db", 5),            # not production
])
def test_no_warning_otherwise(monkeypatch, env, url, workers):
    monkeypatch.setenv("APP_ENV", env)
    monkeypatch.setenv("DATABASE_URL", url)
    server = _Server(workers=workers)
    when_ready(server)
    assert server.log.warnings == []
