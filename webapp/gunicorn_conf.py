"""Production serving defaults: ``gunicorn -c python:webapp.gunicorn_conf wsgi:app``.

Every value can be overridden by the environment (below) or on the command line.

- ``BIND`` (``127.0.0.1:8000``): put ``0.0.0.0:8000`` behind a reverse proxy on another host.
- ``WEB_CONCURRENCY`` (2 x CPU cores + 1): sync worker processes. Login is CPU-bound by
  design (argon2 with OWASP's parameters), so more processes than that only queue.
- ``GUNICORN_TIMEOUT`` (30 s): a worker silent for longer is killed and replaced.
- ``GUNICORN_MAX_REQUESTS`` (10000, with jitter): recycle workers to bound slow leaks.
- ``ACCESS_LOG`` (``-``, stdout) as one JSON object per request; ``ACCESS_LOG=off`` disables it.
- ``GUNICORN_CONTROL_SOCKET`` (unset: no control socket).
- ``GUNICORN_PRELOAD`` (``1``): build the app once in the master and fork the workers from
  it (``preload_app``): a worker starts at once, imports nothing, and maps only the
  library pages it uses (less memory at every worker count measured: the README's
  benchmark, "Preloading"). The
  database pool is dropped in each new worker (``post_fork`` below), so no connection
  the master may have opened is ever used by a worker; the outbox thread and the
  limiter's storage are per process already (started or pid-checked after the fork).
  New code then needs a restart or ``USR2``, not ``HUP`` (and ``--reload`` needs ``0``).
  ``0``: each worker imports the app itself.

gunicorn's ``Server`` header carries no version number; the client address the app
believes comes from ``TRUSTED_PROXIES`` (ProxyFix in the app), not from gunicorn.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import sys
import time
from typing import Any

from gunicorn.glogging import Logger


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = _int("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
max_requests = _int("GUNICORN_MAX_REQUESTS", 10_000)
max_requests_jitter = max_requests // 10
# The heartbeat file in memory, not on a disk that may stall (containers).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
limit_request_line = 8190
limit_request_fields = 100
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
_access = os.environ.get("ACCESS_LOG", "-")
accesslog = None if _access.lower() in ("off", "none", "") else _access
proc_name = "webapp"
# gunicorn >= 25 opens a control socket at one fixed path per user: two servers on one
# host would fight over it. Off unless GUNICORN_CONTROL_SOCKET names a path of its own.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
preload_app = os.environ.get("GUNICORN_PRELOAD", "1").lower() not in ("0", "false", "no", "off")


def when_ready(server: Any) -> None:
    """In the master, once it listens: production on SQLite with several workers works
    (one machine; writers take turns on the database file's lock), and is said so."""
    if os.environ.get("APP_ENV") != "production" or server.cfg.workers < 2:
        return
    url = os.environ.get("DATABASE_URL", "")
    if not url or url.startswith("sqlite"):
        server.log.warning(
            "SQLite in production with %d workers: fine on one machine (writes take "
            "turns on the database file's lock); several app servers, or more writes "
            "than one file takes, need PostgreSQL (DATABASE_URL).", server.cfg.workers)


def pre_fork(server: Any, worker: Any) -> None:
    """In the master, before each worker is forked: move every object the master holds
    (with ``preload_app``, the whole loaded app) out of the garbage collector's sight
    (``gc.freeze``). They live as long as the process anyway; a worker's collections then
    no longer walk them (less CPU per request) nor write to their pages, which stay
    shared with the master (less memory per worker)."""
    gc.collect()
    gc.freeze()


def post_fork(server: Any, worker: Any) -> None:
    """In each new worker: with ``preload_app``, forget the master's database pool.

    Only a master that loaded this app has one. Another WSGI app served with this file
    (``-c webapp/gunicorn_conf.py``: the benchmark's bare yardstick) gets none of this
    app's imports, which ``webapp.forking`` would bring (the package's ``__init__``)."""
    if server.cfg.preload_app and "webapp" in sys.modules:
        from webapp.forking import forget_inherited_connections

        forget_inherited_connections(server.app.wsgi())


def worker_exit(server: Any, worker: Any) -> None:
    """A worker stopping (SIGTERM: a deploy): its inline delivery thread finishes the
    message in hand and hands back the rest, within the graceful timeout."""
    extensions = getattr(getattr(worker, "wsgi", None), "extensions", None) or {}
    dispatcher = extensions.get("outbox_dispatcher")
    if dispatcher is not None:
        dispatcher.stop(timeout=max(1.0, server.cfg.graceful_timeout - 5))


class JsonAccessLogger(Logger):
    """One JSON object per request: safe to parse whatever the client sent."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "remote_addr": environ.get("REMOTE_ADDR", ""),
            "method": environ.get("REQUEST_METHOD", ""),
            "path": environ.get("PATH_INFO", ""),
            "query": environ.get("QUERY_STRING", ""),
            "status": int(str(resp.status).split(None, 1)[0]),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "user_agent": environ.get("HTTP_USER_AGENT", ""),
            "request_id": _header(resp.headers, "X-Request-ID"),
            "pid": os.getpid(),
        }
        self.access_log.info(json.dumps(record, separators=(",", ":")))


def _header(headers: Any, name: str) -> str:
    items = headers.items() if hasattr(headers, "items") else headers
    return next((str(v) for k, v in items if k.lower() == name.lower()), "")


logger_class = JsonAccessLogger
