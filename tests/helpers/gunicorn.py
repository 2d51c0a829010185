"""What gunicorn passes to the configuration's hooks (``worker_exit``), for the app under test."""

from __future__ import annotations

from flask import Flask


class Worker:
    """The loaded app is ``worker.wsgi``."""

    def __init__(self, app: Flask) -> None:
        self.wsgi = app


class Server:
    class cfg:  # noqa: N801 - gunicorn's attribute name
        graceful_timeout = 15
