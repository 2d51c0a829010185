"""Account enumeration through timing: do existing and unknown accounts take the same time?

Runs the app in-process (Flask test client, a throwaway SQLite database, the real
argon2id parameters, messages queued and never sent inline, limits off so that
every request does the full work) and, for each use case, times 50 interleaved
pairs of requests, one for an existing account and one for an unknown one, in a
random order within each pair. Prints the medians and their difference.

    .venv/bin/python bench/timing.py [--samples 50] [--target-ms 10]

Exits 1 when a difference reaches the target (10 ms by default).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp import create_app  # noqa: E402
from webapp.domain.values import Channel  # noqa: E402
from webapp.extensions import db  # noqa: E402

PASSWORD = "correct horse battery staple"
WRONG = "not the right passphrase"


def build_app(directory: Path) -> Any:
    app = create_app({
        "APP_ENV": "testing", "SECRET_KEY": "bench-" + "k" * 40,
        "DATABASE_URL": f"sqlite:///{directory / 'bench.db'}",
        "DELIVERY": "worker", "RATELIMIT_ENABLED": False, "LOG_LEVEL": "WARNING",
    })
    with app.app_context():
        db.create_all()
    return app


def add_account(app: Any, email: str, verified: bool) -> None:
    services = app.extensions["services"]
    with app.app_context():
        services.accounts.register(email=email, phone=None, password=PASSWORD)
        if verified:
            ports = app.extensions["ports"]
            with ports.uow() as uow:
                user = uow.users.get_by_email(email)
                user.mark_verified(Channel.EMAIL, ports.clock.now())
                uow.users.save(user)
                uow.commit()


def timed(call: Callable[[], Any], expected: int) -> float:
    start = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - start
    if response.status_code != expected:
        raise SystemExit(f"unexpected {response.status_code}: {response.get_data(as_text=True)}")
    return elapsed


def compare(name: str, known: Callable[[int], Any], unknown: Callable[[int], Any],
            expected: int, samples: int) -> float:
    for i in range(3):  # warm-up: caches, first-use imports
        known(-1 - i)
        unknown(-1 - i)
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for i in range(samples):
        pair = [("known", known), ("unknown", unknown)]
        random.shuffle(pair)
        for label, call in pair:
            times[label].append(timed(lambda call=call, i=i: call(i), expected))
    a, b = statistics.median(times["known"]), statistics.median(times["unknown"])
    diff = (a - b) * 1000
    print(f"{name:<8} existing {a * 1000:8.2f} ms   unknown {b * 1000:8.2f} ms   "
          f"median difference {diff:+7.2f} ms")
    return abs(diff)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--target-ms", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        app = build_app(Path(directory))
        add_account(app, "known@example.com", verified=True)
        add_account(app, "pending@example.com", verified=False)
        client = app.test_client()

        def post(path: str, body: dict[str, Any]) -> Any:
            return client.post(path, json=body)

        settings = app.config["SETTINGS"]
        print(f"argon2id m={settings.ARGON2_MEMORY_COST} KiB t={settings.ARGON2_TIME_COST} "
              f"p={settings.ARGON2_PARALLELISM}; {args.samples} interleaved samples per case")
        worst = max(
            compare("login",
                    lambda i: post("/api/auth/login/", {"email": "known@example.com",
                                                        "password": WRONG}),
                    lambda i: post("/api/auth/login/", {"email": "nobody@example.com",
                                                        "password": WRONG}),
                    401, args.samples),
            compare("register",
                    lambda i: post("/api/auth/register/", {"email": "known@example.com",
                                                           "password": PASSWORD}),
                    lambda i: post("/api/auth/register/", {"email": f"new{i}@example.com",
                                                           "password": PASSWORD}),
                    201, args.samples),
            compare("reset",
                    lambda i: post("/api/auth/password-reset/", {"email": "known@example.com"}),
                    lambda i: post("/api/auth/password-reset/", {"email": "nobody@example.com"}),
                    202, args.samples),
            compare("resend",
                    lambda i: post("/api/auth/email-verify/resend/",
                                   {"email": "pending@example.com"}),
                    lambda i: post("/api/auth/email-verify/resend/",
                                   {"email": "nobody@example.com"}),
                    202, args.samples),
        )
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    verdict = "OK" if worst < args.target_ms else "OVER TARGET"
    print(f"largest median difference {worst:.2f} ms (target < {args.target_ms:g} ms): {verdict}")
    return 0 if worst < args.target_ms else 1


if __name__ == "__main__":
    sys.exit(main())
