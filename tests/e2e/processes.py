"""Scale tests' own helpers, beside tests/e2e/servers.py: `flask worker` processes and an
SMTP sink that can hold a message unanswered (to kill or stop a worker mid-send).

Every server listens on 127.0.0.1 on a free port and is stopped by its owner.
"""

from __future__ import annotations

import asyncio
import email
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller

from tests.e2e.servers import BIN, HOST, ROOT, free_port


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
        self.controller = Controller(self, hostname=HOST, port=self.port)

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
            # If the sender dies meanwhile, aiosmtpd cancels this handler: never accepted.
            await asyncio.get_running_loop().run_in_executor(None, self._release.wait, 60)
        with self._lock:
            self.accepted.append(message)
        return "250 OK"

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self.controller.stop()


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
