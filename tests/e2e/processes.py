"""Real processes for scale tests: `flask worker`s, gunicorn app servers, an SMTP sink.

Every server listens on 127.0.0.1 on a free port and is stopped by its owner.
Waiting is polling with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import email
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition",
             interval: float = 0.05) -> Any:
    """Poll ``condition`` until it is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        threading.Event().wait(interval)


class SmtpSink:
    """An SMTP server that records accepted messages by their X-Outbox-Key.

    ``hold_first()`` makes it keep the next message's DATA unanswered until
    ``release()``; a message held when its sender dies was never accepted.
    """

    def __init__(self) -> None:
        self.accepted: list[email.message.Message] = []
        self.held = threading.Event()
        self._release = threading.Event()
        self._hold = False
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def hold_first(self) -> None:
        self._hold = True

    def release(self) -> None:
        self._release.set()

    @property
    def keys(self) -> list[str]:
        with self._lock:
            return [str(m["X-Outbox-Key"]) for m in self.accepted]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content)
        if self._hold:
            self._hold = False
            self.held.set()
            await asyncio.get_running_loop().run_in_executor(None, self._release.wait, 60)
            with self._lock:
                self.accepted.append(message)
            return "250 OK (after a hold)"
        with self._lock:
            self.accepted.append(message)
        return "250 OK"

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self.controller.stop()


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a real app process (worker or gunicorn) in these tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "STRIPE_"))}
    env.update({
        "APP_ENV": "testing",
        "SECRET_KEY": "scale-test-secret-" + "x" * 32,
        "DATABASE_URL": database_url,
        "APP_BASE_URL": "http://testserver",
        "DELIVERY": "worker",
        "RATELIMIT_ENABLED": "false",
        "ARGON2_MEMORY_COST": "8", "ARGON2_TIME_COST": "1", "ARGON2_PARALLELISM": "1",
        "PYTHONUNBUFFERED": "1",
        **extra,
    })
    return env


def start_worker(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "flask"), "--app", "wsgi", "worker", *args], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def stop(process: subprocess.Popen[str], timeout: float = 20.0) -> str:
    """SIGTERM, wait, SIGKILL if it will not go; returns its output."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output or ""


@contextmanager
def running(processes: list[subprocess.Popen[str]]) -> Iterator[list[subprocess.Popen[str]]]:
    """Stops every process on the way out, whatever happened."""
    try:
        yield processes
    finally:
        for process in processes:
            stop(process)
