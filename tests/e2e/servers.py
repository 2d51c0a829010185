"""Real servers for end-to-end tests, reusable by any of them.

- ``Process``: any server in a subprocess (gunicorn, localstripe, postgres, redis...): started
  with an explicit environment, its output kept in a log file, ready when a check you give
  passes (polled with a deadline), stopped with its whole process group.
- ``AppServer``: this app under gunicorn on a free port (``app_env`` + ``migrate`` prepare it).
- ``SmtpServer``: a real SMTP server (aiosmtpd) in this process, keeping what it receives.
- ``HttpSink``: a tiny HTTP server in this process that records JSON POSTs (an SMS gateway,
  a webhook receiver) and can be told to fail.

Everything listens on 127.0.0.1 on a free ephemeral port and is stopped by its ``with`` block
or fixture. While a server runs, a failing test shows its log (see tests/e2e/conftest.py).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import requests
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
FAST_ARGON2 = {"ARGON2_MEMORY_COST": "8", "ARGON2_TIME_COST": "1", "ARGON2_PARALLELISM": "1"}
# Inherited from the test runner's environment; nothing else leaks into a server's.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")

T = TypeVar("T")

RUNNING: list[Any] = []  # servers up right now: their logs go into a failing test's report


def free_port() -> int:
    """A port the OS just handed out, free now (bind to port 0 where a server allows it)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05,
             what: str = "the condition") -> T:
    """Poll ``check`` until it returns something truthy; TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} was not met within {timeout} s")
        time.sleep(interval)


def port_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_ok(url: str) -> Callable[[], bool]:
    """A readiness check: ``url`` answers 2xx."""
    def check() -> bool:
        try:
            return requests.get(url, timeout=2).ok
        except requests.RequestException:
            return False
    return check


def base_env(**values: Any) -> dict[str, str]:
    """A clean environment for a subprocess: a few inherited basics plus ``values``."""
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env["PYTHONUNBUFFERED"] = "1"
    env.update({name: str(value) for name, value in values.items()})
    return env


# --- subprocesses ------------------------------------------------------------------------


class Process:
    """A server in a subprocess, in its own process group, with its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str],
                 cwd: Path = ROOT, log_dir: Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        log_dir = log_dir or Path(tempfile.mkdtemp(prefix=f"{name}-"))
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self, ready: Callable[[], bool], timeout: float = 30.0) -> Process:
        """Start and wait until ``ready()``; if the process dies or is not ready, stop it and
        raise with its log."""
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        RUNNING.append(self)
        try:
            wait_for(lambda: self._exited() or ready(), timeout, 0.1, f"{self.name} ready")
            if self._exited():
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}")
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {exc}\n--- log ---\n{self.log()}"
                               ) from exc
        return self

    def _exited(self) -> bool:
        return self.popen is not None and self.popen.poll() is not None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the process group, SIGKILL if it lingers; always reaped."""
        if self in RUNNING:
            RUNNING.remove(self)
        if self.popen is None or self.popen.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.popen.wait(timeout)

    def _signal(self, signum: int) -> None:
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)  # our own session: gunicorn and its workers

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the app -----------------------------------------------------------------------------


def app_env(database_url: str, **overrides: Any) -> dict[str, str]:
    """The app's environment for e2e runs: testing mode, fast argon2, no rate limits or resend
    cool-down, console mail and SMS unless ``overrides`` say otherwise (e.g. MAIL_SERVER)."""
    return base_env(**{
        "APP_ENV": "testing",
        "SECRET_KEY": "e2e-secret-key-" + "x" * 32,
        "DATABASE_URL": database_url,
        "RATELIMIT_ENABLED": "false",
        "RESEND_COOLDOWN": "0",  # like the integration tests: on only where a test wants it
        "LOG_LEVEL": "INFO",
        **FAST_ARGON2,
        **overrides,
    })


def flask(args: Sequence[str], env: Mapping[str, str], timeout: float = 120.0,
          check: bool = True) -> subprocess.CompletedProcess[str]:
    """``flask --app wsgi ARGS`` with ``env``; raises with its output when it fails."""
    result = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], env=dict(env),
                            cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} exited {result.returncode}:\n"
                           f"{result.stdout}\n{result.stderr}")
    return result


def migrate(env: Mapping[str, str]) -> None:
    """Build the schema from nothing, exactly as an operator does."""
    flask(["db", "upgrade"], env)


class AppServer(Process):
    """``gunicorn -w N -b 127.0.0.1:PORT wsgi:app``; ready when /healthz answers 200.

    ``APP_BASE_URL`` defaults to the server's own address so that emailed links work."""

    def __init__(self, env: Mapping[str, str], workers: int = 2, port: int | None = None,
                 log_dir: Path | None = None, extra_args: Sequence[str] = ()) -> None:
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        env = {"APP_BASE_URL": self.url, **env}
        argv = [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"{HOST}:{self.port}",
                "--graceful-timeout", "3", "--log-level", "info",
                # gunicorn >= 24 opens a control socket at one fixed path in $HOME: two servers
                # at once would fight over it.
                "--no-control-socket", *extra_args, "wsgi:app"]
        super().__init__("gunicorn", argv, env, log_dir=log_dir)

    def start(self, ready: Callable[[], bool] | None = None, timeout: float = 60.0
              ) -> AppServer:
        super().start(ready or http_ok(self.url + "/healthz"), timeout)
        return self

    def flask(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A CLI command against this server's database and settings."""
        return flask(args, self.env, check=check)


# --- SMTP --------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        return part.get_content() if part is not None else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        return part.get_content() if part is not None else ""


class _Collector:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.server.lock:
            self.server.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on loopback. ``port`` may be chosen before ``start()``, to show what
    happens while nothing listens there yet."""

    name = "smtp"

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(_Collector(self), hostname=HOST, port=self.port)
        self.controller.start()  # returns once the server answers
        RUNNING.append(self)
        return self

    def stop(self) -> None:
        if self in RUNNING:
            RUNNING.remove(self)
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def messages(self, to: str | None = None) -> list[Received]:
        with self.lock:
            return [m for m in self.received if to is None or to in m.rcpt_tos]

    def wait_for(self, to: str, count: int = 1, timeout: float = 15.0) -> list[Received]:
        """At least ``count`` messages to ``to``, polled with a deadline."""
        return wait_for(lambda: len(self.messages(to)) >= count and self.messages(to), timeout,
                        what=f"{count} email(s) to {to}")

    def log(self) -> str:
        return "\n".join(f"{m.mail_from} -> {m.rcpt_tos}: {m.message['Subject']}"
                         for m in self.messages()) or "(no messages)"

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- HTTP sink ---------------------------------------------------------------------------


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class HttpSink:
    """Records every request; answers ``status`` (set it to 503 to play an outage)."""

    status: int = 200
    hits: list[Hit] = field(default_factory=list)
    name: str = "http-sink"

    def start(self) -> HttpSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body: Any = json.loads(raw or b"null")
                except ValueError:
                    body = raw.decode(errors="replace")
                status = sink.status
                if status < 400:  # a failing gateway did not take the message
                    sink.hits.append(Hit("POST", self.path, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{HOST}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        RUNNING.append(self)
        return self

    def stop(self) -> None:
        if self in RUNNING:
            RUNNING.remove(self)
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def wait_for(self, check: Callable[[Hit], bool], count: int = 1, timeout: float = 15.0
                 ) -> list[Hit]:
        def matching() -> list[Hit]:
            found = [hit for hit in list(self.hits) if check(hit)]
            return found if len(found) >= count else []
        return wait_for(matching, timeout, what=f"{count} matching request(s) to {self.name}")

    def log(self) -> str:
        return "\n".join(f"{h.method} {h.path} {h.body}" for h in self.hits) or "(no requests)"

    def __enter__(self) -> HttpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def mailing_site(tmp: Path, smtp: SmtpServer, port: int | None = None,
                 **settings: Any) -> Iterator[AppServer]:
    """A migrated SQLite site in ``tmp`` under gunicorn with 2 workers, its mail going to
    ``smtp``; ``settings`` are more environment variables."""
    env = app_env(f"sqlite:///{tmp / 'app.db'}", MAIL_SERVER=HOST, MAIL_PORT=smtp.port,
                  **settings)
    migrate(env)
    with AppServer(env, workers=2, port=port, log_dir=tmp).start() as app:
        yield app


def watched_page(context: Any) -> Iterator[Any]:
    """A new page of ``context`` (Playwright) that fails the test on any console error
    (a CSP violation, a script error) once the test is done with it."""
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.text} on {page.url}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    yield page
    assert not [p for p in problems if "Failed to load resource" not in p], problems
