"""Two processes' first connections to a new SQLite file (two workers' first requests
after a start, on the limits' counters file created on first use): both connect.

SQLite answers the loser of the race to turn the file to WAL "database is locked" at
once, without waiting for the busy timeout; that was a 503 for one of the first logins
(tests/e2e/test_limits_across_workers.py failed about one run in four)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from sqlalchemy import create_engine, text

from webapp.infrastructure.uow import tune_sqlite

PAIRS = 25


def _connect(path: str, ready, results) -> None:  # noqa: ANN001 - multiprocessing's
    engine = create_engine(f"sqlite:///{path}")
    tune_sqlite(engine, 10_000)
    ready.wait()
    try:
        with engine.connect() as connection:
            results.put(connection.execute(text("PRAGMA journal_mode")).scalar())
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(repr(exc))


def test_racing_first_connections_to_a_new_file_all_get_wal(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    answers = []
    for pair in range(PAIRS):
        path = str(tmp_path / f"new-{pair}.db-limits")
        ready, results = context.Barrier(2), context.Queue()
        processes = [context.Process(target=_connect, args=(path, ready, results))
                     for _ in range(2)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(30)
        answers += [results.get(timeout=5) for _ in processes]
    assert answers == ["wal"] * (2 * PAIRS), [a for a in answers if a != "wal"][:3]
