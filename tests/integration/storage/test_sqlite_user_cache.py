"""The user cache on SQLite (issue 18): a bearer request is served from memory while the
database file is unchanged, stops working as soon as anyone commits a change to the user,
and a read that misses takes no write lock (PRAGMA data_version, see
webapp/infrastructure/sqlite_reads.py)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import is_postgres
from webapp.extensions import db
from webapp.infrastructure.sqlite_reads import SqliteChangeFeed
from webapp.infrastructure.user_cache import CLEAR_ALL, CachedReader

pytestmark = pytest.mark.skipif(is_postgres(), reason="SQLite's own change signal")


def database_file(app: Flask) -> str:
    with app.app_context():
        return str(db.engine.url.database)


def other_process(app: Flask, statement: str) -> None:
    """A commit on a connection of its own: what another worker's write looks like."""
    with sqlite3.connect(database_file(app), isolation_level=None) as connection:
        connection.execute("PRAGMA busy_timeout=5000")
        connection.execute(statement)
    connection.close()


@pytest.fixture
def bearer(client: FlaskClient, tokens: dict[str, str]) -> dict[str, str]:
    header = {"Authorization": f"Bearer {tokens['access']}"}
    for _ in range(2):
        assert client.get("/api/auth/me/", headers=header).status_code == 200
    reader = client.application.extensions["ports"].reader
    assert isinstance(reader, CachedReader)
    assert reader.cache.live and len(reader.cache) == 1  # the second /me was a hit
    return header


def test_the_feed_reports_a_commit_by_another_connection_once(tmp_path: Path) -> None:
    path = str(tmp_path / "feed.db")
    with sqlite3.connect(path, isolation_level=None) as writer:
        writer.execute("CREATE TABLE t (x INTEGER)")
        feed = SqliteChangeFeed(lambda: path)
        feed.connect()
        assert feed.drain() == []
        writer.execute("INSERT INTO t VALUES (1)")
        assert feed.drain() == [CLEAR_ALL]
        assert feed.drain() == []
        feed.close()
        assert feed.drain() is None  # not listening: the cache reads the database
    writer.close()


def test_a_user_deactivated_by_another_process_is_refused_at_once(
        client: FlaskClient, bearer: dict[str, str]) -> None:
    other_process(client.application, "UPDATE users SET is_active = 0")
    assert client.get("/api/auth/me/", headers=bearer).status_code == 401


def test_a_renamed_user_is_read_again(client: FlaskClient, bearer: dict[str, str]) -> None:
    other_process(client.application, "UPDATE users SET first_name = 'Renamed'")
    assert client.get("/api/auth/me/", headers=bearer).json["first_name"] == "Renamed"


def test_a_read_that_misses_does_not_wait_for_a_writer(
        client: FlaskClient, bearer: dict[str, str]) -> None:
    """Another process holds the write lock; the token check still answers (a snapshot)."""
    answers: list[int] = []
    with sqlite3.connect(database_file(client.application), isolation_level=None) as writer:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE users SET last_name = 'Pending'")  # not committed
        asking = threading.Thread(target=lambda: answers.append(
            client.get("/api/auth/me/", headers=bearer).status_code))
        reader = client.application.extensions["ports"].reader
        reader.cache.evict({1})  # a miss: this check goes to the database
        asking.start()
        asking.join(timeout=10)
        writer.execute("ROLLBACK")
    writer.close()
    assert answers == [200]


def test_an_in_memory_database_gets_no_cache(app_factory) -> None:  # noqa: ANN001
    app = app_factory(DATABASE_URL="sqlite://")
    assert app.extensions["ports"].reader is None
