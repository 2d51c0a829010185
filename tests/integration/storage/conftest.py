"""The migration tests' database: a new SQLite file, or a new database on the test
PostgreSQL server when TEST_DATABASE_URL names one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import is_postgres


@pytest.fixture
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if is_postgres():
        yield request.getfixturevalue("scratch_database")
    else:
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
