"""The benchmark's servers and loads for one backend: ours, Flask-Security-Too, bare Flask."""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg
import requests

from bench import floor_app
from bench.harness import (
    CONNECTIONS,
    ROOT,
    SECRET_KEY,
    Load,
    Server,
    SlowSmtp,
    Stack,
    app_env,
    create_database,
    create_sqlite_database,
    libpq,
    seed_sqlite_users,
    seed_users,
    wrk,
)
from webapp.domain.passwords import normalize_password
from webapp.infrastructure.security import Argon2Hasher

PASSWORD = "bench passphrase of quiet lanterns"
SMALL, LARGE = 1_000, 1_000_000


@dataclass
class Tally:
    """One side of a comparison, summed over the rounds (percentiles: median of rounds)."""

    requests: int = 0
    seconds: float = 0.0
    p50s: list[float] = field(default_factory=list)
    p95s: list[float] = field(default_factory=list)
    p99s: list[float] = field(default_factory=list)

    def add(self, load: Load) -> None:
        self.requests += load.requests
        self.seconds += load.seconds
        self.p50s.append(load.p50_ms)
        self.p95s.append(load.p95_ms)
        self.p99s.append(load.p99_ms)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def p50(self) -> float:
        return statistics.median(self.p50s)

    @property
    def p95(self) -> float:
        return statistics.median(self.p95s)

    @property
    def p99(self) -> float:
        return statistics.median(self.p99s)


@dataclass
class Side:
    name: str
    server: Server
    run: Callable[[int], Load]
    outbox: Callable[[], int] | None = None  # ours: messages not yet delivered
    tally: Tally = field(default_factory=Tally)

    def measure(self, seconds: int) -> None:
        load = self.load(seconds)
        if load.errors:
            raise RuntimeError(f"{self.name}: {load.errors} errors in {load.requests} requests")
        self.tally.add(load)

    def load(self, seconds: int) -> Load:
        """One load, counted until the server has worked off what wrk left in flight.

        wrk stops with one request outstanding per connection; the server still serves
        each (it learns that the client left only when it writes the answer). Counted as
        wrk counts them, a slow row would lose up to 16 requests of work per load (a
        Flask-Security-Too registration costs ~0.35 s of CPU: a 2 s load could count
        none). So the load's requests and time run until both workers have answered a
        /healthz queued behind those 16, and the next load starts on idle servers."""
        load = self.run(seconds)
        started = time.monotonic()
        with ThreadPoolExecutor(2) as pool:  # one per worker, queued behind the rest
            for answer in pool.map(lambda _: requests.get(self.server.url + "/healthz",
                                                          timeout=120), range(2)):
                answer.raise_for_status()
        self._wait_for_outbox()
        return replace(load, requests=load.requests + CONNECTIONS,
                       seconds=load.seconds + time.monotonic() - started)

    def _wait_for_outbox(self) -> None:
        """Ours sends its email after the commit, off the request path: a registration's
        work is done when its message is delivered (Flask-Security-Too sends it inside
        the request). Also, every delivery is a commit, which empties the SQLite user
        cache: the next row must not start while the previous one's mail still goes."""
        if self.outbox is None:
            return
        deadline = time.monotonic() + 120
        while self.outbox() and time.monotonic() < deadline:
            time.sleep(0.05)


def _empty_postgres_database(server_url: str, name: str) -> str:
    with psycopg.connect(libpq(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


@dataclass
class Backend:
    name: str
    smtp: SlowSmtp
    ours_env: dict[str, str]
    fst_env: dict[str, str]
    bare_env: dict[str, str]
    fst_bin: Path
    large_env: dict[str, str] | None = None
    floor_env: dict[str, str] | None = None  # the floors (bench/floor_app.py)

    @classmethod
    def prepare(cls, name: str, stack: Stack, directory: Path, server_url: str | None,
                fst_bin: Path, log: Callable[[str], None]) -> Backend:
        """Databases for ours (migrated) and FST (its own tables), each with the same
        1,000 verified users and password; on PostgreSQL also ours with 1,000,000."""
        stored = Argon2Hasher().hash(normalize_password(PASSWORD))
        mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(stack.smtp.port)}
        large_env = None
        if name == "sqlite":
            url = create_sqlite_database(directory, "ours")
            took = seed_sqlite_users(url, SMALL, stored)
            fst_url = f"sqlite:///{directory / 'fst.db'}"
            floor_db = str(directory / "floor.db")
        else:
            assert server_url
            url = create_database(server_url, "bench_small")
            took = seed_users(url, SMALL, stored)
            large = create_database(server_url, "bench_large")
            log(f"postgresql: seeded {LARGE:,} users in "
                f"{seed_users(large, LARGE, stored):.1f} s (COPY)")
            large_env = app_env(large, **mail)
            fst_url = _empty_postgres_database(server_url, "bench_fst")
            floor_db = libpq(_empty_postgres_database(server_url, "bench_floor"))
        floor_app.seed(floor_db, SMALL, stored)
        floor_env = {"PATH": os.environ.get("PATH", ""), "SECRET_KEY": SECRET_KEY,
                     "LOG_LEVEL": "WARNING", "FLOOR_DB": floor_db,
                     "MAIL_PORT": str(stack.smtp.port)}
        log(f"{name}: seeded {SMALL:,} users in {took:.1f} s")
        plain = {"PATH": os.environ.get("PATH", ""), "SECRET_KEY": SECRET_KEY,
                 "LOG_LEVEL": "WARNING"}
        fst_env = {**plain, "DATABASE_URL": fst_url, **mail}
        subprocess.run([str(fst_bin / "python"), "bench/fst_app.py", "seed", str(SMALL)],
                       cwd=ROOT, env={**fst_env, "BENCH_PASSWORD": PASSWORD}, check=True,
                       timeout=300)
        return cls(name, stack.smtp, app_env(url, **mail), fst_env,
                   {**os.environ, **plain, "BENCH_PASSWORD_HASH": stored}, fst_bin, large_env,
                   floor_env)

    def login(self, server: Server, users: int = SMALL) -> Callable[[int], Load]:
        return lambda s: wrk(server.url, "login", str(users), PASSWORD, seconds=s)

    def register(self, server: Server, delay: float = 0.0) -> Callable[[int], Load]:
        def go(s: int) -> Load:
            self.smtp.delay = delay
            tag = f"{server.name}-{int(delay)}-{time.monotonic_ns()}"
            try:
                return wrk(server.url, "register", tag, PASSWORD, seconds=s)
            finally:
                self.smtp.delay = 0.0  # what is still queued goes out at once
        return go

    def pending(self, env: dict[str, str]) -> Callable[[], int]:
        """Messages in ours' outbox not yet delivered."""
        url, query = env["DATABASE_URL"], "SELECT count(*) FROM outbox WHERE status = 'pending'"
        if url.startswith("sqlite"):
            def count() -> int:
                with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
                    return int(conn.execute(query).fetchone()[0])
            return count

        def count_pg() -> int:
            with psycopg.connect(libpq(url)) as conn:
                return int(conn.execute(query).fetchone()[0])  # type: ignore[index]
        return count_pg


def _login(url: str) -> dict[str, object]:
    response = requests.post(url, timeout=30, json={"email": "user1@bench.example",
                                                    "password": PASSWORD})
    response.raise_for_status()
    return response.json()


def start_sides(backend: Backend, stack: Stack) -> dict[str, Side]:
    """The servers, and every load in the order of a round (interleaved by row)."""
    n = backend.name
    ours = stack.gunicorn(f"ours-{n}", "wsgi:app", backend.ours_env)
    fst = stack.gunicorn(f"fst-{n}", "bench.fst_app:app", backend.fst_env, backend.fst_bin)
    bare = stack.gunicorn(f"bare-{n}", "bench.bare_app:app", backend.bare_env)
    access = _login(ours.url + "/api/auth/login/")["tokens"]["access"]  # type: ignore[index]
    fst_token = _login(fst.url + "/api/auth/login/?include_auth_token")[
        "response"]["user"]["authentication_token"]  # type: ignore[index]

    def me(server: Server, header: str) -> Callable[[int], Load]:
        return lambda s: wrk(server.url + "/api/auth/me/", None, seconds=s, headers=(header,))

    bearer = f"Authorization: Bearer {access}"
    outbox = backend.pending(backend.ours_env)
    sides = {
        "me_ours": Side("GET /me, ours", ours, me(ours, bearer), outbox),
        "me_fst": Side("GET /me, FST", fst, me(fst, f"Authentication-Token: {fst_token}")),
        "me_bare": Side("GET /me, bare", bare, me(bare, bearer)),
        "login_ours": Side("login, ours", ours, backend.login(ours), outbox),
        "login_fst": Side("login, FST", fst, backend.login(fst)),
        "login_bare": Side("login, bare", bare, backend.login(bare)),
        "register_ours": Side("register, ours", ours, backend.register(ours), outbox),
        "register_fst": Side("register, FST", fst, backend.register(fst)),
        "register_bare": Side("register, bare", bare, backend.register(bare)),
    }
    if backend.floor_env is not None:  # each floor right after its row's bare side
        floor = stack.gunicorn(f"floor-{n}", "bench.floor_app:app", backend.floor_env)
        floors = {"login_bare": Side("login, floor", floor, backend.login(floor)),
                  "register_bare": Side("register, floor", floor, backend.register(floor))}
        sides = dict(item for key, side in sides.items() for item in
                     [(key, side)] + ([(key.replace("bare", "floor"), floors[key])]
                                      if key in floors else []))
    if backend.large_env is not None:
        large = stack.gunicorn(f"ours-{n}-large", "wsgi:app", backend.large_env)
        sides["login_large"] = Side("login, ours, 1,000,000 users", large,
                                    backend.login(large, LARGE))
        sides["register_slow"] = Side("register, ours, SMTP 2 s/message", ours,
                                      backend.register(ours, 2.0), outbox)
    return sides
