"""The benchmark: this app beside Flask-Security-Too and a bare Flask app, on SQLite (the
embedded default) and on PostgreSQL, every figure printed beside its target.

Three servers per backend, each gunicorn with 2 sync workers and the app's gunicorn
configuration, argon2id with OWASP's parameters (m=19 MiB, t=2, p=1) on every side, rate
limits off, wrk with 16 connections on loopback:

- ours (``wsgi:app``, production settings, SMTP to a local sink);
- Flask-Security-Too 5.9 (bench/fst_app.py: fsqla_v3, token authentication, confirmable
  registration by email over the same sink), from its own virtual environment;
- bare Flask + PyJWT (bench/bare_app.py: the same JWT check, a hash and two JWTs for a
  login, a hash for a registration; no database).

A fourth, the floors (bench/floor_app.py: the bare login plus one read and a two-row
write, the bare register plus one insert and one plain email, on the same database),
shows how close to bare any real login and registration can get here, printed as
``(ref)`` lines.

Absolute numbers are noisy on a shared machine, so every ratio compares loads measured
in the same run, interleaved in short rounds (ours, FST, bare, ours, FST, bare, ...) so
that whatever else the machine is doing weighs on every side alike.
Run it with ``bash bench/run [--backend sqlite|postgresql|both] [--seconds N]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import Stack
from bench.memory import driver_cost, import_table
from bench.sides import PASSWORD, Backend, Side, Tally, start_sides

REFERENCE = "(ref)"
WORKERS = 2 * (os.cpu_count() or 1) + 1  # gunicorn_conf's default WEB_CONCURRENCY


@dataclass
class Figure:
    name: str
    value: float
    target: str
    ok: bool
    detail: str


@dataclass
class Outcome:
    backend: str
    tallies: dict[str, Tally]
    rss: dict[str, float]
    pss: dict[str, tuple[float, float]]
    driver_mib: float
    imports: list[str]
    figures: list[Figure] = field(default_factory=list)


def measure(backend: Backend, stack: Stack, seconds: int, rounds: int,
            log: Callable[[str], None]) -> Outcome:
    sides = start_sides(backend, stack)
    for side in sides.values():  # warm up: imports, pools, prepared statements
        side.load(2)
    for n in range(1, rounds + 1):
        for side in sides.values():
            side.measure(seconds)
        log(f"{backend.name}: round {n}/{rounds} done (load average {os.getloadavg()[0]:.1f})")
    rss = {who: max(sides[f"login_{who}"].server.peak_rss()) for who in ("ours", "fst", "bare")}
    pss = {"preload": sides["login_ours"].server.pss(WORKERS)}
    lazy = stack.gunicorn(f"ours-{backend.name}-no-preload", "wsgi:app",
                          {**backend.ours_env, "GUNICORN_PRELOAD": "0"})
    Side("no preload", lazy, backend.login(lazy)).load(seconds)
    pss["no preload"] = lazy.pss(WORKERS)
    login_only = _login_only_rss(backend, stack, seconds)
    stack.stop(lazy)
    env = {**backend.ours_env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    try:
        imports = import_table(env, PASSWORD)
    except (OSError, subprocess.SubprocessError) as exc:  # a table is no reason to lose a run
        imports = [f"  (no table: {exc!s:.300})"]
    rss.update({f"{who} login only": mib for who, mib in login_only.items()})
    return Outcome(backend.name, {k: s.tally for k, s in sides.items()}, rss, pss,
                   driver_cost(env) if backend.name == "postgresql" else 0.0, imports)


def _login_only_rss(backend: Backend, stack: Stack, seconds: int) -> dict[str, float]:
    """Peak RSS of one worker of fresh servers (ours, FST) that serve only the login load,
    as the issue words the row; the target row above measures the servers that served
    every load, registrations (and ours' email) included."""
    fresh = {"ours": stack.gunicorn(f"ours-{backend.name}-login-only", "wsgi:app",
                                    backend.ours_env),
             "fst": stack.gunicorn(f"fst-{backend.name}-login-only", "bench.fst_app:app",
                                   backend.fst_env, backend.fst_bin)}
    peaks = {}
    for who, server in fresh.items():
        side = Side(f"login only, {who}", server, backend.login(server))
        for _ in range(2):
            side.load(seconds)
        peaks[who] = max(server.peak_rss())
        stack.stop(server)
    return peaks


def figures(o: Outcome) -> list[Figure]:
    t = o.tallies
    rows: list[tuple[str, float, str, float, bool, str]] = []
    for what, key in (("GET /me", "me"), ("login", "login"), ("register", "register")):
        ours, fst, bare = t[f"{key}_ours"], t[f"{key}_fst"], t[f"{key}_bare"]
        want_fst, want_bare = {"me": (2.0, 0.7), "login": (1.0, 0.95),
                               "register": (1.0, 0.9)}[key]
        rows += [(f"{what} req/s, ours / FST", ours.rps / fst.rps, ">=", want_fst, True,
                  f"{ours.rps:.1f}/s / {fst.rps:.1f}/s"),
                 (f"{what} req/s, ours / bare", ours.rps / bare.rps, ">=", want_bare, True,
                  f"{ours.rps:.1f}/s / {bare.rps:.1f}/s")]
    ours, fst = t["register_ours"], t["register_fst"]
    rows.append(("register p99, ours / FST", ours.p99 / fst.p99, "<=", 1.0, True,
                 f"{ours.p99:.0f} ms / {fst.p99:.0f} ms (bare {t['register_bare'].p99:.0f} ms)"))
    floors = [(what, t[f"{what}_ours"], t[f"{what}_floor"], t[f"{what}_bare"])
              for what in ("login", "register") if f"{what}_floor" in t]
    allowance = o.driver_mib
    rows.append(("peak RSS of one worker, MiB", o.rss["ours"], "<=", o.rss["fst"] + allowance,
                 False, f"FST {o.rss['fst']:.1f}"
                 + (f" + driver {allowance:.1f}" if allowance else "")
                 + f"; bare {o.rss['bare']:.1f} (VmHWM after the loads)"))
    if "login_large" in t:  # the remaining targets of issue 7, on PostgreSQL
        small, large = t["login_ours"], t["login_large"]
        fast, slow = t["register_ours"], t["register_slow"]
        rows += [("login p50, 1,000,000 / 1,000 users", large.p50 / small.p50, "<=", 1.1,
                  True, f"{large.p50:.0f} ms / {small.p50:.0f} ms"),
                 ("register p95, SMTP 2 s / instant", slow.p95 / fast.p95, "<=", 1.1, True,
                  f"{slow.p95:.0f} ms / {fast.p95:.0f} ms")]
    out = [Figure(name, value, f"{op} {target:.2f}" if ratio else f"{op} {target:.1f}",
                  value >= target if op == ">=" else value <= target, detail)
           for name, value, op, target, ratio, detail in rows]
    for what, ours, floor, bare in floors:
        out.append(Figure(f"  {what} req/s, floor / bare", floor.rps / bare.rps, REFERENCE,
                          True, f"{floor.rps:.1f}/s / {bare.rps:.1f}/s; ours / floor "
                          f"{ours.rps / floor.rps:.2f} (the least a real {what} does: "
                          "bench/floor_app.py)"))
    out.append(Figure("  peak RSS, login load only, MiB", o.rss["ours login only"],
                      REFERENCE, True, f"FST {o.rss['fst login only']:.1f}; fresh servers "
                      "serving only logins"))
    if allowance:
        out.append(Figure("  PostgreSQL driver's own RSS, MiB", allowance, REFERENCE, True,
                          "psycopg + libpq + SQLAlchemy's dialect, imported into Flask + "
                          "SQLAlchemy"))
    for mode, (measured, estimated) in o.pss.items():
        out.append(Figure(f"  PSS per worker, {mode}, MiB", measured, REFERENCE, True,
                          f"(master + 2 workers) / 2; with {WORKERS} workers (the default "
                          f"here) {estimated:.1f}"))
    return out


def table(o: Outcome) -> str:
    t = o.tallies
    lines = [f"| row ({o.backend}) | ours | Flask-Security-Too | bare Flask | ours ÷ FST "
             "| ours ÷ bare |", "|---|---|---|---|---|---|"]
    for what, key in (("`GET /api/auth/me/` req/s", "me"), ("login req/s", "login"),
                      ("register req/s", "register")):
        ours, fst, bare = t[f"{key}_ours"], t[f"{key}_fst"], t[f"{key}_bare"]
        p99 = (lambda x: f" (p99 {x.p99:.0f} ms)") if key == "register" else (lambda x: "")
        lines.append(f"| {what} | {ours.rps:,.1f}{p99(ours)} | {fst.rps:,.1f}{p99(fst)} | "
                     f"{bare.rps:,.1f}{p99(bare)} | {ours.rps / fst.rps:.2f} | "
                     f"{ours.rps / bare.rps:.2f} |")
    r = o.rss
    lines.append(f"| peak RSS of one worker | {r['ours']:.1f} MiB | {r['fst']:.1f} MiB | "
                 f"{r['bare']:.1f} MiB | {r['ours'] / r['fst']:.2f} | "
                 f"{r['ours'] / r['bare']:.2f} |")
    return "\n".join(lines)


def report(fs: list[Figure]) -> str:
    def verdict(f: Figure) -> str:
        return "" if f.target == REFERENCE else "ok" if f.ok else "MISS"

    lines = [f"{'figure':<38} {'measured':>8}  {'target':<8} {'':<4} detail"]
    lines += [f"{f.name:<38} {f.value:>8.2f}  {f.target:<8} {verdict(f):<4} {f.detail}"
              for f in fs]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--database-url", help="a PostgreSQL server (the benchmark creates "
                        "its own databases); needed unless --backend sqlite")
    parser.add_argument("--fst-bin", required=True, type=Path,
                        help="bin/ of the virtual environment with Flask-Security-Too")
    parser.add_argument("--seconds", type=int, default=2, help="length of each measured load")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    args = parser.parse_args()
    names = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in names and not args.database_url:
        parser.error("--database-url is needed for PostgreSQL")
    # bench/run's timeout sends SIGTERM: unwind so that every server gets stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    started = time.monotonic()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    ok = True
    with tempfile.TemporaryDirectory(prefix="webapp-bench-db-") as directory:
        stack = Stack()
        try:
            for name in names:
                backend = Backend.prepare(name, stack, Path(directory), args.database_url,
                                          args.fst_bin, lambda line: print(line, flush=True))
                outcome = measure(backend, stack, args.seconds, args.rounds,
                                  lambda line: print(line, flush=True))
                outcome.figures = figures(outcome)
                ok = ok and all(f.ok for f in outcome.figures)
                print(f"\n## {outcome.backend}\n\n{table(outcome)}\n\n"
                      f"{report(outcome.figures)}\n\nwhere one worker's Python memory goes "
                      "(tracemalloc, after a login, a /me and a registration):\n"
                      + "\n".join(outcome.imports) + "\n", flush=True)
        finally:
            stack.close()
    print(f"measured in {time.monotonic() - started:.0f} s; gunicorn with 2 sync workers "
          "per server, wrk with 16 connections on loopback")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

