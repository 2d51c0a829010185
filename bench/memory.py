"""Where a worker's megabytes go: the benchmark's memory figures beside the RSS row.

- ``import_table``: a fresh process builds the app (``wsgi``) on the benchmark's database
  and serves a login, a ``/me`` and a registration through the test client, with
  ``tracemalloc`` on from the start; the Python memory still held is added up per package
  (the innermost frame that is not the import machinery: the module being imported or the
  code that allocated), beside the process's RSS. C libraries' own allocations (argon2's
  19 MiB, OpenSSL, libpq) are in the RSS only.
- ``driver_cost``: what the PostgreSQL driver adds to a process that already holds
  SQLAlchemy and Flask (psycopg, libpq, SQLAlchemy's psycopg dialect), in RSS.
"""

from __future__ import annotations

import json
import subprocess

from bench.harness import BIN, ROOT

TABLE = r"""
import json, sys, tracemalloc, os
tracemalloc.start(30)
from wsgi import app
client = app.test_client()
password = sys.argv[1]
login = client.post("/api/auth/login/", json={"email": "user2@bench.example",
                                              "password": password})
token = login.get_json()["tokens"]["access"]
me = client.get("/api/auth/me/", headers={"Authorization": "Bearer " + token})
register = client.post("/api/auth/register/", json={
    "email": "importtable-%d@bench.example" % os.getpid(), "password": password})
assert (login.status_code, me.status_code, register.status_code) == (200, 200, 201)
snapshot = tracemalloc.take_snapshot()
sizes = {}
for stat in snapshot.statistics("traceback"):
    # The most recent frame in a package (site-packages or webapp): what imported or
    # allocated it; else the most recent one outside the import machinery (stdlib).
    frames = [f.filename for f in reversed(stat.traceback)]
    path = next((f for f in frames if "site-packages/" in f or "/webapp/" in f),
                next((f for f in frames if not f.startswith("<")), frames[0]))
    if "site-packages/" in path:
        parts = path.split("site-packages/", 1)[1].split("/")
        name = parts[0].removesuffix(".py")
    elif "/webapp/" in path:
        parts = path.split("/webapp/", 1)[1].split("/")
        name = "webapp." + parts[0].removesuffix(".py")
    elif "/lib/python" in path:
        name = "stdlib." + path.split("/lib/python", 1)[1].split("/")[1].removesuffix(".py")
    else:
        name = path
    sizes[name] = sizes.get(name, 0) + stat.size
rss = next(int(line.split()[1]) for line in open("/proc/self/status")
           if line.startswith("VmRSS:"))
modules = len(sys.modules)
print(json.dumps({"sizes": sizes, "rss_kib": rss, "modules": modules}), flush=True)
os._exit(0)  # no waiting for threads, no tearing down 500 MiB of traces
"""

DRIVER = r"""
import json
def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))
import flask, flask_sqlalchemy, sqlalchemy.orm, sqlalchemy.dialects.sqlite.pysqlite
before = rss()
import psycopg, sqlalchemy.dialects.postgresql.psycopg
print(json.dumps({"kib": rss() - before}))
"""


def import_table(env: dict[str, str], password: str, top: int = 14) -> list[str]:
    """The lines of the per-package table, heaviest first."""
    # Messages queued, not sent: no delivery thread in this process (its email is not
    # what this table is about, and the process must end when the table is printed).
    out = subprocess.run([str(BIN / "python"), "-c", TABLE, password], cwd=ROOT,
                         env={**env, "DELIVERY": "worker"}, capture_output=True, text=True,
                         timeout=300, check=True).stdout
    data = json.loads(out.splitlines()[-1])
    sizes = sorted(data["sizes"].items(), key=lambda item: -item[1])
    total = sum(size for _, size in sizes)
    lines = [f"  {'package (Python heap still held)':<44} {'MiB':>6}"]
    lines += [f"  {name[:44]:<44} {size / 2**20:6.2f}" for name, size in sizes[:top]]
    rest = sum(size for _, size in sizes[top:])
    if rest:
        lines.append(f"  {f'{len(sizes) - top} more':<44} {rest / 2**20:6.2f}")
    lines.append(f"  {'total traced':<44} {total / 2**20:6.2f}   (RSS of that process "
                 f"{data['rss_kib'] / 1024:.1f} MiB with tracemalloc's own cost; "
                 f"{data['modules']} modules)")
    return lines


def driver_cost(env: dict[str, str]) -> float:
    """MiB of RSS that importing the PostgreSQL driver adds (psycopg and its dialect)."""
    out = subprocess.run([str(BIN / "python"), "-c", DRIVER], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return json.loads(out.splitlines()[-1])["kib"] / 1024

