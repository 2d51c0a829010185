"""Real servers for the browser tests: the app under gunicorn, an SMTP sink, an SMS sink.

Each listens on 127.0.0.1 on a free ephemeral port and is stopped by its ``with`` block.
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
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import requests
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], T], timeout: float = 15.0, what: str = "it") -> T:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(0.05)


class AppServer:
    """``gunicorn wsgi:app`` on a fresh SQLite database built with ``flask db upgrade``."""

    def __init__(self, tmp: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = tmp / "gunicorn.log"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1", "APP_ENV": "testing",
            "SECRET_KEY": "e2e-secret-" + "x" * 40,
            "DATABASE_URL": f"sqlite:///{tmp / 'app.db'}", "APP_BASE_URL": self.url,
            "RATELIMIT_ENABLED": "false", "ARGON2_MEMORY_COST": "8", "ARGON2_TIME_COST": "1",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> AppServer:
        subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], env=self.env,
                       cwd=ROOT, check=True, capture_output=True, timeout=120)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "gunicorn"), "-w", "2", "-b", f"{HOST}:{self.port}",
                 "--no-control-socket", "--graceful-timeout", "3", "wsgi:app"],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        try:
            wait_for(self._ready, 60, "gunicorn")
        except Exception:
            self.__exit__()
            raise
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{self.log()}")
        try:
            return requests.get(self.url + "/healthz", timeout=2).ok
        except requests.RequestException:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __exit__(self, *exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


class _Collector:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.sink.lock:
            self.sink.received.append(message)  # type: ignore[arg-type]
        return "250 OK"


class SmtpSink:
    """A real SMTP server (aiosmtpd) in this process, keeping every message."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.controller = Controller(_Collector(self), hostname=HOST, port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def messages(self, to: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.received if to in str(m["To"])]

    def wait(self, to: str, count: int = 1) -> EmailMessage:
        """The ``count``-th message to ``to``, once it has arrived."""
        return wait_for(lambda: len(self.messages(to)) >= count and self.messages(to)[count - 1],
                        what=f"email {count} to {to}")

    @staticmethod
    def text(message: EmailMessage) -> str:
        part = message.get_body(("plain",))
        return part.get_content() if part is not None else ""


class SmsSink:
    """The HTTP SMS gateway of SMS_BACKEND=http: records each ``{"to", "body"}`` it gets."""

    def __init__(self) -> None:
        sink = self
        self.received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.received.append(json.loads(raw or b"{}"))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SmsSink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def wait(self, to: str, count: int = 1) -> str:
        """The body of the ``count``-th SMS to ``to``."""
        def found() -> str:
            bodies = [m["body"] for m in list(self.received) if m.get("to") == to]
            return bodies[count - 1] if len(bodies) >= count else ""
        return wait_for(found, what=f"SMS {count} to {to}")
