"""Operator commands: ``flask --app wsgi worker [--burst]`` (and ``db ...`` from Flask-Migrate)."""

from __future__ import annotations

import os
import signal
import socket
import threading

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from webapp.application.services import Services


def services() -> Services:
    return current_app.extensions["services"]


@click.command("worker")
@click.option("--burst", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--batch", default=20, show_default=True, help="Messages claimed at a time.")
@click.option("--idle-sleep", default=1.0, type=float, show_default=True,
              help="Seconds to wait when nothing is due.")
@with_appcontext
def worker_command(burst: bool, batch: int, idle_sleep: float) -> None:
    """Deliver queued email, SMS and Stripe calls, with retries and backoff.

    Many workers may run at once: each message is claimed under a lease. SIGTERM
    or SIGINT finishes the message in hand, then exits.
    """
    name = f"worker:{socket.gethostname()}:{os.getpid()}"
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        click.echo(f"{name}: signal {signum}, finishing the message in hand", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    delivered = 0
    while not stop.is_set():
        tried = services().delivery.deliver_due(name, batch, stop=stop.is_set)
        delivered += tried
        if tried == 0:
            if burst:
                break
            stop.wait(idle_sleep)
    click.echo(f"{name}: {delivered} message(s) tried", err=True)


def register(app: Flask) -> None:
    app.cli.add_command(worker_command)
