"""``wsgi:app`` as a preloading gunicorn master builds it, with what test_preload.py needs.

- The master opens a database connection before the fork and leaves it in the pool (what
  any start-up check would do): without the ``post_fork`` of webapp/gunicorn_conf.py the
  workers would inherit it and share it.
- Every connection records the process that opened it (and, on PostgreSQL, its server
  process), and ``GET /_test/connection`` tells which ones served the request.
"""

from __future__ import annotations

import os
from typing import Any

from flask import jsonify
from sqlalchemy import event, text

from webapp.extensions import db
from wsgi import app

BUILT_BY = os.getpid()  # the master, when it preloads


def _opened(dbapi_connection: Any, record: Any) -> None:
    record.info["opened_by"] = os.getpid()


with app.app_context():
    event.listen(db.engine, "connect", _opened)
    with db.engine.connect() as connection:  # back into the pool, open, owned by the master
        connection.execute(text("SELECT 1"))


@app.get("/_test/connection")
def connection():  # noqa: ANN201
    conn = db.session.connection()
    backend = None
    if conn.dialect.name == "postgresql":
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    # A read through the ORM's session as every view does, not only a bare ping.
    users = conn.execute(text("SELECT count(*) FROM users")).scalar()
    return jsonify({"worker": os.getpid(), "master": os.getppid(), "built_by": BUILT_BY,
                    "backend": backend,
                    "opened_by": conn.connection.info["opened_by"], "users": users})
