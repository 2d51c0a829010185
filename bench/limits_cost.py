"""What the shared rate-limit counters cost per request: login and /me, limits off vs on.

Runs the app in-process (Flask test client) on the database of ``DATABASE_URL`` (a
throwaway SQLite file by default), with the cheapest argon2 so that the difference is
the counters' work, not the hash. Without ``REDIS_URL`` every limit counts in the
database (webapp/infrastructure/shared_limits.py); with it, the per-client ones in Redis.
Prints the median time per request of each case and the difference.

    .venv/bin/python bench/limits_cost.py [--requests 300]
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/limits_cost.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp import create_app  # noqa: E402
from webapp.extensions import db  # noqa: E402

PASSWORD = "correct horse battery staple"


def make(url: str, limits: bool) -> Any:
    app = create_app({
        "APP_ENV": "testing", "SECRET_KEY": "b" * 40, "DATABASE_URL": url,
        "DELIVERY": "worker", "RATELIMIT_ENABLED": limits, "RESEND_COOLDOWN": 0,
        "RATELIMIT_LOGIN": "100000/minute", "RATELIMIT_LOGIN_FAILED_PER_ACCOUNT": "100000/minute",
        "ARGON2_MEMORY_COST": 8, "ARGON2_TIME_COST": 1, "ARGON2_PARALLELISM": 1,
        "REDIS_URL": os.environ.get("REDIS_URL", "")})
    with app.app_context():
        db.drop_all()
        db.create_all()
    services = app.extensions["services"]
    with app.app_context():
        services.accounts.register(email="bench@example.com", phone=None, password=PASSWORD)
        ports = app.extensions["ports"]
        with ports.uow() as uow:
            user = uow.users.get_by_email("bench@example.com")
            user.email_verified_at = ports.clock.now()
            uow.users.save(user)
            uow.commit()
    return app


def timed(call: Any, n: int) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def measure(url: str, limits: bool, n: int) -> tuple[float, float]:
    app = make(url, limits)
    client = app.test_client()
    body = {"email": "bench@example.com", "password": PASSWORD}

    def login() -> None:
        assert client.post("/api/auth/login/", json=body).status_code == 200

    access = client.post("/api/auth/login/", json=body).json["tokens"]["access"]

    def me() -> None:
        assert client.get("/api/auth/me/", headers={
            "Authorization": f"Bearer {access}"}).status_code == 200

    result = timed(login, n), timed(me, n)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    off = measure(url, False, args.requests)
    on = measure(url, True, args.requests)
    print(f"database: {url.split('://')[0]}, redis: {bool(os.environ.get('REDIS_URL'))}")
    for name, a, b in (("login", off[0], on[0]), ("/me", off[1], on[1])):
        print(f"{name:6} limits off {a:6.2f} ms   on {b:6.2f} ms   cost {b - a:+6.2f} ms")


if __name__ == "__main__":
    main()
