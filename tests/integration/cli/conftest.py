"""``flask_command``: a real ``flask --app wsgi ...`` process, as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_app
from webapp.extensions import db

ROOT = Path(__file__).resolve().parents[3]


def dispose(app) -> None:  # noqa: ANN001
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def flask_command(tmp_path):
    """Run ``flask --app wsgi ARGS`` as an operator would, limits on, on a SQLite file
    whose schema a test app made first."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    dispose(make_app(tmp_path, DATABASE_URL=url))

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        variables = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "k" * 40,
                     "APP_ENV": "testing", "DELIVERY": "worker", "RATELIMIT_ENABLED": "true",
                     "ARGON2_MEMORY_COST": "1024", **env}
        variables.pop("TEST_DATABASE_URL", None)
        return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args],
                              cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env=variables, check=False)

    return run
