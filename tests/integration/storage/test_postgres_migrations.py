"""The migrations build the PostgreSQL schema the models describe (what a deploy runs)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.e2e.servers import app_env, flask

pytestmark = pytest.mark.postgres


def test_upgrade_then_check_finds_nothing_left_to_migrate(scratch_database: str) -> None:
    env = app_env(scratch_database)
    flask(["db", "upgrade"], env)
    check = flask(["db", "check"], env, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr
    engine = sa.create_engine(scratch_database)
    with engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
    engine.dispose()
    assert {"users", "outbox", "alembic_version"} <= tables
