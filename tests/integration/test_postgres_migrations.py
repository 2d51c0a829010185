"""The migrations build the PostgreSQL schema the models describe (what a deploy runs)."""

from __future__ import annotations

import subprocess
import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import database_url
from tests.e2e.processes import BIN, ROOT, app_env

pytestmark = pytest.mark.postgres


@pytest.fixture
def empty_database(tmp_path):  # noqa: ANN001, ANN201
    server = sa.make_url(database_url(tmp_path))
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()


def flask(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT,
                          env=app_env(url), capture_output=True, text=True, timeout=120)


def test_upgrade_then_check_finds_nothing_left_to_migrate(empty_database: str) -> None:
    upgrade = flask(empty_database, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    check = flask(empty_database, "db", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr
    engine = sa.create_engine(empty_database)
    with engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
    engine.dispose()
    assert {"users", "outbox", "alembic_version"} <= tables
