"""The connection pool hands out the connection returned last (LIFO): a sync worker then
keeps using the one connection its last request warmed (statements, page cache), and a
login's read and write run on the same connection, instead of alternating between the
worker's pooled connections (first in, first out)."""

from __future__ import annotations

from webapp import _engine_options
from webapp.extensions import db


def test_the_connection_returned_last_is_handed_out_first(app):
    with app.app_context():
        pool = db.engine.pool
        first, second = db.engine.raw_connection(), db.engine.raw_connection()
        firsts, seconds = first.driver_connection, second.driver_connection
        assert firsts is not seconds
        first.close()
        second.close()  # returned last
        again = db.engine.raw_connection()
        try:
            assert again.driver_connection is seconds
        finally:
            again.close()
        assert pool.checkedin() == 2


def test_every_file_or_server_database_gets_lifo_and_memory_its_static_connection():
    for url in ("sqlite:////var/lib/app/app.db", "sqlite:///relative.db",
                "postgresql+psycopg://u:p@db/app"):
        assert _engine_options(url, 5000)["pool_use_lifo"] is True, url
    for url in ("sqlite://", "sqlite:///:memory:"):
        assert "pool_use_lifo" not in _engine_options(url, 5000), url
