"""The benchmark: five ratios, each measured in this run and printed beside its target.

Absolute numbers are noisy on a shared machine, so every ratio compares two loads
measured in the same run, interleaved in short rounds (A, B, A, B, ...) so that
whatever else the machine is doing weighs on both sides alike. The throughput
ratios are also given in CPU time per request (app workers + PostgreSQL), which
other load on the machine does not change. Run it with ``bash bench/run``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import Queue, get_context

import requests

from bench.harness import (
    SECRET_KEY,
    Load,
    Server,
    Stack,
    app_env,
    create_database,
    peak_rss_mib,
    postmaster_pid,
    seed_users,
    tree_cpu,
    wrk,
)
from webapp.domain.passwords import normalize_password
from webapp.infrastructure.security import Argon2Hasher

PASSWORD = "bench passphrase of quiet lanterns"
SMALL, LARGE = 1_000, 1_000_000


@dataclass
class Tally:
    """One side of a comparison, summed over the rounds."""

    requests: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    p50s: list[float] = field(default_factory=list)
    p95s: list[float] = field(default_factory=list)

    def add(self, load: Load, cpu: float) -> None:
        self.requests += load.requests
        self.seconds += load.seconds
        self.cpu += cpu
        self.p50s.append(load.p50_ms)
        self.p95s.append(load.p95_ms)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.requests * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.p50s)

    @property
    def p95(self) -> float:
        return statistics.median(self.p95s)


@dataclass
class Side:
    name: str
    server: Server
    run: Callable[[int], Load]
    postmaster: int | None = None  # PostgreSQL's, when this side uses the database
    tally: Tally = field(default_factory=Tally)

    def measure(self, seconds: int) -> None:
        before = self.cpu()
        load = self.run(seconds)
        if load.errors or not load.requests:
            raise RuntimeError(f"{self.name}: {load.errors} errors in {load.requests} requests")
        self.tally.add(load, self.cpu() - before)

    def cpu(self) -> float:
        """CPU seconds so far of this side's gunicorn and, if it uses it, PostgreSQL."""
        used = tree_cpu(self.server.process.pid)
        return used + (tree_cpu(self.postmaster) if self.postmaster else 0.0)


REFERENCE = "(ref)"


@dataclass
class Figure:
    name: str
    value: float
    target: str
    ok: bool
    detail: str


class Argon2Yardstick:
    """The argon2 limit: logins per second the cores could do if they did nothing but
    verify hashes (the app's own hasher with its defaults, OWASP's 19 MiB, t=2, p=1),
    i.e. cores / CPU time of one verification.

    The CPU's speed drifts on a shared machine, so the verification is timed again in
    every round, between the loads, and the limit uses the sum over all rounds.

    The limit times one verification alone, as defined. With every core hashing at once
    (as the workers do under the login load) a verification costs more CPU, because the
    hashes share the caches and the memory bus; that is timed too and printed as the
    ratio's ceiling (what a server doing nothing but hashes would reach).
    """

    def __init__(self) -> None:
        self.hasher = Argon2Hasher()
        self.secret = normalize_password(PASSWORD)
        self.stored = self.hasher.hash(self.secret)
        self.hasher.verify(self.stored, self.secret)
        self.cpu = 0.0
        self.samples = 0
        self.busy_cpu = 0.0
        self.busy_samples = 0

    def _verify(self, samples: int) -> float:
        started = time.process_time()
        for _ in range(samples):
            assert self.hasher.verify(self.stored, self.secret)
        return time.process_time() - started

    def _verify_in_child(self, samples: int, results: Queue[float]) -> None:
        self._verify(1)  # untimed: the first one copies the parent's 19 MiB on write
        results.put(self._verify(samples))

    def measure(self, samples: int = 10) -> float:
        """One round: alone, then on every core at once. Returns the lone mean, seconds."""
        cpu = self._verify(samples)
        self.cpu += cpu
        self.samples += samples
        fork = get_context("fork")
        results: Queue[float] = fork.Queue()
        children = [fork.Process(target=self._verify_in_child, args=(samples, results))
                    for _ in range(os.cpu_count() or 1)]
        for child in children:
            child.start()
        self.busy_cpu += sum(results.get(timeout=120) for _ in children)
        self.busy_samples += samples * len(children)
        for child in children:
            child.join()
        return cpu / samples

    @property
    def hash_cpu(self) -> float:
        return self.cpu / self.samples

    @property
    def limit(self) -> float:
        return (os.cpu_count() or 1) / self.hash_cpu

    @property
    def ceiling(self) -> float:
        """Lone / all-cores CPU of a verification: the ratio's best case."""
        return self.hash_cpu / (self.busy_cpu / self.busy_samples)


def login_token(url: str) -> str:
    response = requests.post(url + "/api/auth/login/", timeout=30,
                             json={"email": "user1@bench.example", "password": PASSWORD})
    response.raise_for_status()
    return response.json()["tokens"]["access"]


def run(server_url: str, seconds: int, rounds: int, log: Callable[[str], None]) -> list[Figure]:
    yardstick = Argon2Yardstick()
    stored = yardstick.stored
    small = create_database(server_url, "bench_small")
    large = create_database(server_url, "bench_large")
    log(f"seeded {SMALL:,} users in {seed_users(small, SMALL, stored):.1f} s (COPY)")
    log(f"seeded {LARGE:,} users in {seed_users(large, LARGE, stored):.1f} s (COPY)")
    stack = Stack()
    try:
        sides = _start(stack, small, large, postmaster_pid(server_url), stored)
        for side in sides.values():  # warm up: imports, pools, prepared statements
            side.run(2)
        for n in range(1, rounds + 1):
            for side in sides.values():
                side.measure(seconds)
            hash_ms = yardstick.measure() * 1000
            log(f"round {n}/{rounds} done (load average {os.getloadavg()[0]:.1f}; "
                f"argon2id verification {hash_ms:.1f} ms CPU)")
        log(f"argon2id verification: {yardstick.hash_cpu * 1000:.1f} ms CPU (mean of "
            f"{yardstick.samples}) -> limit {yardstick.limit:.1f} logins/s on "
            f"{os.cpu_count()} cores")
        rss = max(peak_rss_mib(pid) for key in ("login_small", "login_large")
                  for pid in sides[key].server.worker_pids())
        bare_rss = max(peak_rss_mib(pid) for pid in sides["login_bare"].server.worker_pids())
        floor_rss = _stack_floor(stack, stored, seconds)
        log(f"with every core hashing at once a verification costs "
            f"{yardstick.busy_cpu / yardstick.busy_samples * 1000:.1f} ms CPU: the login "
            f"ratio's ceiling is {yardstick.ceiling:.2f}")
        return _figures(yardstick, {k: s.tally for k, s in sides.items()}, rss, bare_rss,
                        floor_rss)
    finally:
        stack.close()


def _start(stack: Stack, small: str, large: str, database: int,
           stored: str) -> dict[str, Side]:
    smtp = stack.smtp
    mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port)}
    app = stack.gunicorn("app-small", "wsgi:app", app_env(small, **mail))
    app_large = stack.gunicorn("app-large", "wsgi:app", app_env(large, **mail))
    bare = stack.gunicorn("bare", "bench.bare_app:app", _bare_env(stored))
    auth = (f"Authorization: Bearer {login_token(app.url)}",)

    def login(server: Server, users: int) -> Callable[[int], Load]:
        return lambda s: wrk(server.url, "login", str(users), PASSWORD, seconds=s)

    def me(server: Server) -> Callable[[int], Load]:
        return lambda s: wrk(server.url + "/api/auth/me/", None, seconds=s, headers=auth)

    def register(delay: float) -> Callable[[int], Load]:
        def go(s: int) -> Load:
            smtp.delay = delay
            tag = f"{int(delay)}-{time.monotonic_ns()}"
            return wrk(app.url, "register", tag, PASSWORD, seconds=s, connections=2)
        return go

    return {
        "login_small": Side("login, 1,000 users", app, login(app, SMALL), database),
        "login_large": Side("login, 1,000,000 users", app_large, login(app_large, LARGE),
                            database),
        "me": Side("GET /api/auth/me/", app, me(app), database),
        "bare": Side("bare Flask JWT endpoint", bare, me(bare)),
        "login_bare": Side("bare Flask login (hash and two JWTs)", bare, login(bare, SMALL)),
        "register_instant": Side("register, instant SMTP", app, register(0.0), database),
        "register_slow": Side("register, SMTP 2 s/message", app, register(2.0), database),
    }


def _bare_env(stored: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "SECRET_KEY": SECRET_KEY, "LOG_LEVEL": "WARNING",
            "BENCH_PASSWORD_HASH": stored, **extra}


def _stack_floor(stack: Stack, stored: str, seconds: int) -> float:
    """Peak worker RSS of the bare login with the fixed libraries imported and unused
    (bench/bare_app.py, ``STACK``): what any app on them holds at least under this load."""
    server = stack.gunicorn("bare-stack", "bench.bare_app:app",
                            _bare_env(stored, BENCH_IMPORT_STACK="1"))
    load = wrk(server.url, "login", str(SMALL), PASSWORD, seconds=seconds)
    if load.errors or not load.requests:
        raise RuntimeError(f"bare-stack: {load.errors} errors in {load.requests} requests")
    peak = max(peak_rss_mib(pid) for pid in server.worker_pids())
    stack.stop(server)
    return peak


def _figures(yardstick: Argon2Yardstick, t: dict[str, Tally], rss: float,
             bare_rss: float, floor_rss: float) -> list[Figure]:
    limit, hash_cpu = yardstick.limit, yardstick.hash_cpu
    small, large, me, bare = t["login_small"], t["login_large"], t["me"], t["bare"]
    bare_login = t["login_bare"]
    fast, slow = t["register_instant"], t["register_slow"]
    figures = [
        ("login req/s / argon2 limit", small.rps / limit, 0.9, True,
         f"{small.rps:.1f}/s / {limit:.1f}/s (ceiling {yardstick.ceiling:.2f})"),
        ("  same in CPU: hash / CPU per login", hash_cpu * 1000 / small.cpu_ms, 0.9, True,
         f"{hash_cpu * 1000:.1f} ms / {small.cpu_ms:.1f} ms (app + PostgreSQL)"),
        ("GET /me req/s / bare Flask JWT endpoint", me.rps / bare.rps, 0.7, True,
         f"{me.rps:.0f}/s / {bare.rps:.0f}/s"),
        ("  same in CPU: bare / CPU per /me", bare.cpu_ms / me.cpu_ms, 0.7, True,
         f"{bare.cpu_ms:.2f} ms / {me.cpu_ms:.2f} ms (app + PostgreSQL)"),
        ("register p95, SMTP 2 s / instant", slow.p95 / fast.p95, 1.1, False,
         f"{slow.p95:.0f} ms / {fast.p95:.0f} ms"),
        ("login p50, 1,000,000 / 1,000 users", large.p50 / small.p50, 1.1, False,
         f"{large.p50:.0f} ms / {small.p50:.0f} ms"),
        ("peak RSS of one app worker, MiB", rss, 80, False, "VmHWM after the login loads"),
    ]
    # Not targets: the same loads on bare Flask (hash and two JWTs, no database), to show
    # how much of each figure the stack itself takes on this machine.
    references = [
        ("  bare Flask login / argon2 limit", bare_login.rps / limit,
         f"{bare_login.rps:.1f}/s; CPU {bare_login.cpu_ms:.1f} ms per login"),
        ("  bare Flask login worker peak RSS, MiB", bare_rss,
         "the same hash, Flask, PyJWT, gunicorn"),
        ("  same + the fixed libraries, unused, MiB", floor_rss,
         "Flask-Login/-WTF/-SQLAlchemy/-Limiter, email-validator, psycopg imported"),
    ]
    return [Figure(name, value, (">= " if at_least else "<= ") + f"{target:g}",
                   value >= target if at_least else value <= target, detail)
            for name, value, target, at_least, detail in figures] + [
        Figure(name, value, REFERENCE, True, detail) for name, value, detail in references]


def report(figures: list[Figure]) -> str:
    def verdict(f: Figure) -> str:
        return "" if f.target == REFERENCE else "ok" if f.ok else "MISS"

    lines = [f"{'figure':<42} {'measured':>8}  {'target':<7} {'':<4} detail"]
    lines += [f"{f.name:<42} {f.value:>8.2f}  {f.target:<7} {verdict(f):<4} "
              f"{f.detail}" for f in figures]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True,
                        help="a PostgreSQL server (the benchmark creates its own databases)")
    parser.add_argument("--seconds", type=int, default=4, help="length of each measured load")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    args = parser.parse_args()
    # bench/run's timeout sends SIGTERM: unwind so that every server gets stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    started = time.monotonic()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    figures = run(args.database_url, args.seconds, args.rounds,
                  lambda line: print(line, flush=True))
    print(f"\nmeasured in {time.monotonic() - started:.0f} s; gunicorn with 2 sync workers "
          f"per server, wrk on loopback\n")
    print(report(figures))
    return 0 if all(f.ok for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
