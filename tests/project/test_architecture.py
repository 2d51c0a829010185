"""Mechanical checks of the shape: the layering contracts, and migrations == models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

ROOT = Path(__file__).resolve().parents[2]
LINT = "import sys; from importlinter.cli import lint_imports_command as run; sys.exit(run())"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})}, check=False)


def test_import_linter_contracts_are_kept():
    result = run("-c", LINT, "--no-cache", "--no-logo", "pyproject.toml")
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    kept = [line for line in report.splitlines() if line.endswith(" KEPT")]
    for contract in ("The four layers", "Domain and application stay free of frameworks",
                     "The interface never touches the ORM",
                     "The doors never reach the unit of work"):
        assert any(line.startswith(contract) for line in kept), report
    assert "BROKEN" not in report and "0 broken" in report, report


def test_no_door_reads_the_ports_behind_the_services():
    """import-linter sees imports, not attribute access: the doors (views, CLI) get the
    services bundle, whose ports (the unit of work above all) stay private to it."""
    offenders = []
    for path in (ROOT / "webapp" / "interface").rglob("*.py"):
        text = path.read_text("utf-8")
        for needle in ('extensions["ports"]', "._ports", ".uow(", ".ports."):
            if needle in text:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert offenders == []


def test_the_service_graph_is_wired_in_one_place():
    """bootstrap (real adapters) and the unit tests' make_world (fakes) both call
    wire_services; neither builds a service itself."""
    wiring = {"webapp/bootstrap.py": (ROOT / "webapp/bootstrap.py").read_text("utf-8"),
              "tests/fakes/world.py": (ROOT / "tests/fakes/world.py").read_text("utf-8")}
    for name, text in wiring.items():
        assert "wire_services(" in text, name
        for service in ("AccountService(", "TokenService(", "SignInService(",
                        "VerificationService(", "AdminService("):
            assert service not in text, (name, service)


# SQLite cannot reflect expression indexes (the staff search's lower(name) ones), so
# autogenerate skips comparing them, and says so; everything else is still compared.
@pytest.mark.filterwarnings(
    "ignore:Skipped unsupported reflection of expression-based index:sqlalchemy.exc.SAWarning")
@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index:UserWarning")
def test_migrations_build_the_schema_match_the_models_and_go_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    env = {"DATABASE_URL": url, "APP_ENV": "testing", "SECRET_KEY": "m" * 40,
           "FLASK_APP": "wsgi"}
    upgrade = run("-m", "flask", "db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr

    from webapp.extensions import db
    from webapp.infrastructure import orm  # noqa: F401  (registers the tables)

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            assert tables == set(db.metadata.tables) | {"alembic_version"}

            # The same comparison as migrations/env.py (and `flask db check`).
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []

        downgrade = run("-m", "flask", "db", "downgrade", "base", env=env)
        assert downgrade.returncode == 0, downgrade.stdout + downgrade.stderr
        with engine.connect() as connection:
            assert set(sa.inspect(connection).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
