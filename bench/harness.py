"""Machinery of the benchmark: databases, seeding, gunicorn servers, an SMTP sink, wrk.

Every server listens on 127.0.0.1 on a free port and is stopped by ``Stack.close``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WRK = ROOT / "bench" / "wrk"
# By path, not ``python:webapp.gunicorn_conf``: importing the module by name would import
# the webapp package first, i.e. the whole app, into the bare yardstick's processes too.
CONFIG = ROOT / "webapp" / "gunicorn_conf.py"
SECRET_KEY = secrets.token_hex(32)
COLUMNS = ("email", "password_hash", "first_name", "last_name", "uniquifier",
           "email_verified_at", "is_active", "is_staff", "created_at", "password_changed_at")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def create_database(server_url: str, name: str) -> str:
    """A new, empty database on the server, migrated like a deploy does (flask db upgrade)."""
    with psycopg.connect(libpq(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server_url.rsplit("/", 1)[0] + "/" + name
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT,
                   env=app_env(url), check=True, capture_output=True, timeout=120)
    return url


def create_sqlite_database(directory: Path, name: str) -> str:
    """A new SQLite database file, migrated like a deploy does (flask db upgrade)."""
    url = f"sqlite:///{directory / name}.db"
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT,
                   env=app_env(url), check=True, capture_output=True, timeout=120)
    return url


def seed_sqlite_users(url: str, count: int, password_hash: str) -> float:
    """As ``seed_users``, into an SQLite database (naive UTC, as the app stores it there)."""
    started = time.monotonic()
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.executemany(
            f"INSERT INTO users ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            ((f"user{i}@bench.example", password_hash, "Bench", f"User {i}",
              secrets.token_hex(16), now, 1, 0, now, now) for i in range(1, count + 1)))
    conn.close()
    return time.monotonic() - started


def seed_users(url: str, count: int, password_hash: str, chunk: int = 50_000) -> float:
    """``count`` verified users user1..userN@bench.example with COPY; returns seconds taken."""
    started = time.monotonic()
    now = datetime.now(UTC).isoformat()
    with psycopg.connect(libpq(url)) as conn:
        with conn.cursor().copy(f"COPY users ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for start in range(1, count + 1, chunk):
                lines = [
                    f"user{i}@bench.example\t{password_hash}\tBench\tUser {i}\t"
                    f"{secrets.token_hex(16)}\t{now}\tt\tf\t{now}\t{now}\n"
                    for i in range(start, min(start + chunk, count + 1))
                ]
                copy.write("".join(lines))
        conn.commit()
    # Settle now what autovacuum would otherwise do in the middle of the measurements.
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("VACUUM (FREEZE, ANALYZE) users")
        conn.execute("CHECKPOINT")
    return time.monotonic() - started


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "STRIPE_"))}
    env.update({
        "APP_ENV": "production", "SECRET_KEY": SECRET_KEY, "DATABASE_URL": database_url,
        "APP_BASE_URL": "https://bench.example", "LOG_LEVEL": "WARNING",
        # The benchmark measures the cost of a request, not the limiter saying 429.
        "RATELIMIT_ENABLED": "false",
        **extra,
    })
    return env


class SlowSmtp:
    """An SMTP server that takes ``delay`` seconds to accept each message."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.received = 0
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        self.received += 1
        return "250 OK"


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        return children(self.process.pid)

    def peak_rss(self) -> list[float]:
        return [peak_rss_mib(pid) for pid in self.worker_pids()]

    def pss(self, workers: int) -> tuple[float, float]:
        """PSS per worker, (master + workers) / workers, MiB: as measured, and estimated
        for ``workers`` workers (what they share counted once, what each holds alone
        once per worker)."""
        master = pss_mib(self.process.pid)
        each = [pss_mib(pid) for pid in self.worker_pids()]
        total = master[0] + sum(p for p, _ in each)
        shared = total - master[1] - sum(u for _, u in each)
        alone = sum(u for _, u in each) / len(each)
        return total / len(each), (shared + master[1] + workers * alone) / workers


class Stack:
    """Everything the benchmark starts, stopped in ``close`` whatever happened."""

    def __init__(self) -> None:
        self.servers: list[Server] = []
        self.smtp = SlowSmtp()
        self.smtp.controller.start()
        self.logs = Path(tempfile.mkdtemp(prefix="webapp-bench-"))

    def gunicorn(self, name: str, target: str, env: dict[str, str],
                 bin_dir: Path = BIN) -> Server:
        """``target`` served by ``bin_dir``'s gunicorn (another virtual environment's for
        the peer) with the app's gunicorn configuration: 2 sync workers."""
        port = free_port()
        env = {**env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2",
               "PYTHONPATH": str(ROOT)}
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(bin_dir / "gunicorn"), "-c", str(CONFIG), target],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        server = Server(name, process, port, log)
        self.servers.append(server)
        deadline = time.monotonic() + 60
        while len(server.worker_pids()) < 2 or not _healthy(server.url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        return server

    def stop(self, server: Server) -> None:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
            try:
                server.process.wait(30)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()
        if server in self.servers:
            self.servers.remove(server)

    def close(self) -> None:
        for server in list(self.servers):
            self.stop(server)
        self.smtp.controller.stop()
        shutil.rmtree(self.logs, ignore_errors=True)  # a server that failed to start said why


def _healthy(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@dataclass
class Load:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


CONNECTIONS = 16


def wrk(url: str, scenario: str | None, *args: str, seconds: int = 10,
        connections: int = CONNECTIONS,
        headers: tuple[str, ...] = ()) -> Load:
    """Run wrk (one thread: the load generator shares the machine) and read its report."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    parts = [(WRK / f"{scenario}.lua").read_text()] if scenario else []
    script.write_text("\n".join([*parts, (WRK / "report.lua").read_text()]))
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(script)]
    for header in headers:
        command += ["-H", header]
    try:
        out = subprocess.run([*command, url, "--", *args], capture_output=True, text=True,
                             check=True, timeout=seconds + 60).stdout
    finally:
        script.unlink()
    report = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    return Load(report["requests"], report["duration_us"] / 1e6, report["errors"],
                report["p50_us"] / 1000, report["p95_us"] / 1000, report["p99_us"] / 1000)


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the most resident memory the process ever had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def pss_mib(pid: int) -> tuple[float, float]:
    """Proportional set size (private pages plus a share of each page shared with other
    processes) and unique set size (private pages only), MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Pss", "Private_Clean", "Private_Dirty"):
            fields[name] = int(rest.split()[0]) / 1024
    return fields["Pss"], fields["Private_Clean"] + fields["Private_Dirty"]


TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def tree_cpu(parent: int) -> float:
    """CPU seconds (user + system) used so far by ``parent`` and all its children, those
    already exited and reaped included (their time is in the parent's cutime/cstime):
    workers that gunicorn recycles or backends that PostgreSQL ends still count."""
    fields = _stat(parent)
    if not fields:
        return 0.0
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    for child in children(parent):
        child_fields = _stat(child)
        if child_fields:
            ticks += sum(int(child_fields[i]) for i in (11, 12, 13, 14))
    return ticks / TICK


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def postmaster_pid(url: str) -> int:
    """The parent of every process of the PostgreSQL server behind ``url``."""
    with psycopg.connect(libpq(url)) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        # Read while connected: once the connection closes, the backend exits.
        return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
