"""localstripe for the e2e tests, and a proxy in front of it that fails (or hangs) once."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from tests.e2e.servers import HOST, Process, base_env, free_port

KEY = "sk_test_e2e_billing"


class LocalStripe(Process):
    """localstripe on a free loopback port, state in memory (see localstripe_loopback.py)."""

    def __init__(self, log_dir: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        super().__init__("localstripe", [sys.executable, "-m", "tests.e2e.localstripe_loopback",
                                         str(self.port)], base_env(), log_dir=log_dir)

    def start(self, ready: Any = None, timeout: float = 30.0) -> LocalStripe:
        super().start(ready or self._answers, timeout)
        return self

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/v1/customers", auth=(KEY, ""), timeout=2).ok
        except requests.RequestException:
            return False

    def flush(self) -> None:
        requests.delete(f"{self.url}/_config/data", timeout=5).raise_for_status()

    def customers(self) -> list[dict[str, Any]]:
        found, after = [], None
        while True:
            params = {"limit": 100, **({"starting_after": after} if after else {})}
            page = requests.get(f"{self.url}/v1/customers", params=params, auth=(KEY, ""),
                                timeout=5).json()
            found += page["data"]
            if not page.get("has_more"):
                return found
            after = page["data"][-1]["id"]

    def customers_of(self, user_id: int) -> list[str]:
        return [c["id"] for c in self.customers()
                if (c.get("metadata") or {}).get("user_id") == str(user_id)]


class FlakyProxy:
    """Forwards to ``upstream``; the first ``POST /v1/customers`` misbehaves once:

    - ``"refuse"``: answers 500 without reaching Stripe;
    - ``"lose"``: reaches Stripe (the customer exists), then answers 500;
    - ``"hang"``: reaches Stripe, then holds the answer until ``release()``.
    """

    def __init__(self, upstream: str, mode: str) -> None:
        self.upstream, self.mode = upstream, mode
        self.customer_posts = 0
        self.released = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                proxy.forward(self)

            do_POST = do_DELETE = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{HOST}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FlakyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def release(self) -> None:
        self.released.set()

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        first = False
        if handler.command == "POST" and handler.path.split("?")[0] == "/v1/customers":
            self.customer_posts += 1
            first = self.customer_posts == 1
        if first and self.mode == "refuse":
            return self._reply(handler, 500, _server_error())
        headers = {k: v for k, v in handler.headers.items()
                   if k.lower() not in ("host", "content-length", "connection")}
        answer = requests.request(handler.command, self.upstream + handler.path, data=body,
                                  headers=headers, timeout=30)
        if first and self.mode == "lose":
            return self._reply(handler, 500, _server_error())
        if first and self.mode == "hang":
            self.released.wait(60)
            return None  # the worker that asked is dead by now
        return self._reply(handler, answer.status_code, answer.content)

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def _server_error() -> bytes:
    return json.dumps({"error": {"type": "api_error", "message": "Stripe had a bad day"}}
                      ).encode()
