"""Migration 0012 makes user ids never come back: on SQLite it rebuilds users with
AUTOINCREMENT, keeping every row, every index and every foreign key that points at
users; on PostgreSQL (TEST_DATABASE_URL) the id was a sequence from the start and the
migration changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import is_postgres
from tests.e2e.servers import app_env, flask

NOW = datetime(2026, 12, 1, tzinfo=UTC)
USERS = (1, 2, 3)


def _refers_to_users(column: sa.Column) -> bool:
    return any(key.column.table.name == "users" for key in column.foreign_keys)


def _value(table: sa.Table, column: sa.Column, uid: int) -> Any:
    """Something each column accepts; every reference to users names the user ``uid``."""
    kind = column.type
    if _refers_to_users(column):
        return uid
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.DateTime):
        return NOW
    if isinstance(kind, sa.Integer | sa.Float | sa.Numeric):
        return 0
    if isinstance(kind, sa.JSON):
        return {"of": uid}
    if isinstance(kind, sa.LargeBinary):
        return f"{uid}".encode()
    assert isinstance(kind, sa.String), (table.name, column.name, kind)
    return f"{uid}-{table.name}-{column.name}"[:kind.length or 100]


def _children(metadata: sa.MetaData) -> list[sa.Table]:
    return [table for table in metadata.sorted_tables
            if any(_refers_to_users(column) for column in table.columns)]


def _populate(engine: sa.Engine) -> list[str]:
    """Users 1-3, and for each a row in every table that references users (every such
    column filled): the names of those tables."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    users = metadata.tables["users"]
    children = _children(metadata)
    with engine.begin() as connection:
        for uid in USERS:
            added = connection.execute(users.insert().returning(users.c.id).values(
                email=f"user{uid}@example.com", phone=f"+4420790000{uid}",
                password_hash="h", first_name=f"First{uid}", last_name=f"Last{uid}",
                uniquifier=f"u{uid}", is_active=True, is_staff=uid == 1, created_at=NOW,
                mfa_version=f"v{uid}", ended_families="", stripe_customer_id=f"cus_{uid}"))
            assert added.scalar_one() == uid  # the database's own ids, as the app gets them
        for table in children:
            for uid in USERS:
                connection.execute(table.insert().values({
                    column.name: _value(table, column, uid) for column in table.columns
                    if not (column.primary_key and isinstance(column.type, sa.Integer))}))
    return [table.name for table in children]


def _snapshot(engine: sa.Engine, tables: list[str]) -> dict[str, Any]:
    """Every row of users and of ``tables``, the indexes of users as the database
    spells them, and every foreign key of every table."""
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        rows = {name: sorted(connection.execute(sa.text(f"SELECT * FROM {name}")).all())
                for name in ["users", *tables]}
        if is_postgres():
            indexes = connection.execute(sa.text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'users'")).all()
        else:
            indexes = connection.execute(sa.text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'users'")).all()
        keys = {name: sorted((key["constrained_columns"], key["referred_table"],
                              key["referred_columns"], key["options"])
                             for key in inspector.get_foreign_keys(name))
                for name in inspector.get_table_names()}
    return {"rows": rows, "indexes": sorted(indexes), "keys": keys}


def _sqlite_checks(connection: sa.Connection) -> None:
    assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def _erase_newest_and_register(engine: sa.Engine) -> int:
    """Erase user 3 as the app does (foreign keys enforced), then add one: its id."""
    with engine.connect() as connection:
        if not is_postgres():
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")  # before any BEGIN
            connection.commit()
        with connection.begin():
            connection.execute(sa.text("DELETE FROM users WHERE id = 3"))
            return connection.execute(sa.text(
                "INSERT INTO users (email, password_hash, first_name, last_name, uniquifier, "
                "is_active, is_staff, created_at) VALUES ('new@example.com', 'h', '', '', "
                "'new', true, false, :now) RETURNING id"), {"now": NOW}).scalar_one()


# Reflecting users skips its lower(name) indexes; _snapshot reads them from the database.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_user_ids_never_come_back_and_nothing_is_lost(empty_database: str):
    env = app_env(empty_database)
    flask(["db", "upgrade", "0011_repair_factors"], env)
    engine = sa.create_engine(empty_database)
    try:
        children = _populate(engine)
        assert len(children) >= 14  # audit, outbox, factors, sessions, billing, ...
        before = _snapshot(engine, children)
        expression = dict(before["indexes"])["ix_users_first_name_prefix"]
        assert "lower(" in expression and "first_name" in expression  # the one at risk

        flask(["db", "upgrade"], env)
        assert _snapshot(engine, children) == before
        if not is_postgres():
            with engine.connect() as connection:
                _sqlite_checks(connection)
                assert "AUTOINCREMENT" in connection.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'users'").scalar()
                assert connection.exec_driver_sql(
                    "SELECT seq FROM sqlite_sequence WHERE name = 'users'").scalar() == 3

        assert _erase_newest_and_register(engine) == 4  # not 3: that was the erased one's
        with engine.connect() as connection:
            # The foreign keys still act: user 3's rows went or let go of it.
            left = {name: connection.execute(sa.text(f"SELECT * FROM {name}")).all()
                    for name in children}
        assert all(len(rows) in (2, 3) for rows in left.values())
        assert sum(len(rows) == 2 for rows in left.values()) >= 10  # the CASCADE ones

        flask(["db", "downgrade", "0011_repair_factors"], env)
        after = _snapshot(engine, children)
        assert after["indexes"] == before["indexes"] and after["keys"] == before["keys"]
        assert [row[0] for row in after["rows"]["users"]] == [1, 2, 4]
        if not is_postgres():
            with engine.connect() as connection:
                _sqlite_checks(connection)
                assert "AUTOINCREMENT" not in connection.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'users'").scalar()
    finally:
        engine.dispose()


def test_a_database_with_no_users_yet_starts_at_one(empty_database: str):
    env = app_env(empty_database)
    flask(["db", "upgrade"], env)
    engine = sa.create_engine(empty_database)
    try:
        with engine.begin() as connection:
            first = connection.execute(sa.text(
                "INSERT INTO users (email, password_hash, first_name, last_name, uniquifier, "
                "is_active, is_staff, created_at) VALUES ('a@example.com', 'h', '', '', 'a', "
                "true, false, :now) RETURNING id"), {"now": NOW}).scalar_one()
        assert first == 1
    finally:
        engine.dispose()


def test_run_again_after_a_crash_it_keeps_the_counter(empty_database: str):
    """The rebuild commits on its own: a deploy killed before alembic_version moved runs
    it again, and the ids erased in between still do not come back."""
    env = app_env(empty_database)
    flask(["db", "upgrade"], env)
    engine = sa.create_engine(empty_database)
    try:
        with engine.begin() as connection:
            for uid in USERS:
                connection.execute(sa.text(
                    "INSERT INTO users (email, password_hash, first_name, last_name, "
                    "uniquifier, is_active, is_staff, created_at) VALUES (:email, 'h', '', "
                    "'', :u, true, false, :now)"),
                    {"email": f"user{uid}@example.com", "u": f"u{uid}", "now": NOW})
            connection.execute(sa.text("DELETE FROM users WHERE id = 3"))
            connection.execute(sa.text(
                "UPDATE alembic_version SET version_num = '0011_repair_factors'"))
        flask(["db", "upgrade"], env)
        with engine.begin() as connection:
            assert connection.execute(sa.text(
                "INSERT INTO users (email, password_hash, first_name, last_name, uniquifier, "
                "is_active, is_staff, created_at) VALUES ('new@example.com', 'h', '', '', "
                "'new', true, false, :now) RETURNING id"), {"now": NOW}).scalar_one() == 4
    finally:
        engine.dispose()


def test_as_an_sql_script_it_says_to_run_against_the_database(tmp_path: Path):
    env = app_env(f"sqlite:///{tmp_path / 'offline.db'}")
    script = flask(["db", "upgrade", "0011_repair_factors:0012_user_ids", "--sql"], env,
                   check=False)
    assert script.returncode != 0
    assert "run it against the database (flask db upgrade)" in script.stderr
