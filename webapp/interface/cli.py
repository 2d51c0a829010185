"""Operator commands: ``worker [--burst]``, ``users ...`` (and ``db ...`` from Flask-Migrate)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from webapp.domain.errors import DomainError
from webapp.interface import services

log = logging.getLogger(__name__)
RETRY_CAP = 60.0  # seconds between tries while the database (or anything) is down


@click.command("worker")
@click.option("--burst", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--batch", default=20, type=click.IntRange(min=1), show_default=True,
              help="Messages claimed at a time.")
@click.option("--idle-sleep", default=1.0, type=click.FloatRange(min=0, min_open=True),
              show_default=True,
              help="Seconds to wait when nothing is due.")
@with_appcontext
def worker_command(burst: bool, batch: int, idle_sleep: float) -> None:
    """Deliver queued email, SMS and Stripe calls, with retries and backoff.

    Many workers may run at once: each message is claimed under a lease. SIGTERM
    or SIGINT finishes the message in hand, then exits. A failed pass (the database
    restarting) is logged and tried again, waiting longer each time up to a minute;
    with --burst it ends the command with exit status 1.
    """
    name = f"worker:{socket.gethostname()}:{os.getpid()}"
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        click.echo(f"{name}: signal {signum}, finishing the message in hand", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    delivered = failures = 0
    while not stop.is_set():
        try:
            # A context per pass, as the inline thread does: a failed pass leaves no
            # broken database session behind for the next one.
            with current_app.app_context():
                tried = services().delivery.deliver_due(name, batch, stop=stop.is_set)
        except Exception as exc:  # a database restart must not end every worker
            if burst:
                raise click.ClickException(f"{name}: delivery failed: {exc!r}") from exc
            failures += 1
            wait = min(RETRY_CAP, idle_sleep * 2 ** failures)
            log.exception("%s: delivery failed; trying again in %.0f s", name, wait)
            stop.wait(wait)
            continue
        failures = 0
        delivered += tried
        if tried == 0:
            if burst:
                break
            stop.wait(idle_sleep)
    click.echo(f"{name}: {delivered} message(s) tried", err=True)


users_group = AppGroup("users", help="Manage accounts: the first admin, staff, deactivation.")


def _refused(exc: DomainError) -> click.ClickException:
    details = [m for ms in getattr(exc, "errors", {}).values() for m in ms]
    return click.ClickException(" ".join(details) or exc.detail)


@users_group.command("create-admin")
@click.argument("email")
@click.option("--password", help="The password (prompted for, hidden, when not given).")
def create_admin_command(email: str, password: str | None) -> None:
    """Create a verified staff account for EMAIL, or promote (and verify) an existing one.

    An existing account also gets the given password, and its sessions end.
    The password rules of every account apply.
    """
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user, created = services().admin.create_admin(email, password)
    except DomainError as exc:
        raise _refused(exc) from exc
    verb = "Created" if created else "Promoted"
    click.echo(f"{verb} staff account {user.email} (id {user.id}). Log in at /login.")


def _user_action(action: str, done: str, help_text: str) -> click.Command:
    @click.argument("identifier", metavar="EMAIL_OR_PHONE")
    def command(identifier: str) -> None:
        admin = services().admin
        try:
            admin.act(None, admin.user_id_for(identifier), action)
        except DomainError as exc:
            raise _refused(exc) from exc
        click.echo(f"{identifier}: {done}")

    command.__doc__ = help_text + " Audited as a command-line staff action."
    return command


for _name, _action, _done, _help in (
        ("promote", "promote", "now a staff member",
         "Give an account access to the staff pages at /admin/."),
        ("demote", "demote", "no longer a staff member",
         "Take away an account's access to the staff pages."),
        ("deactivate", "deactivate", "deactivated; every session and token revoked",
         "Stop an account from logging in; its sessions and tokens die at once."),
        ("reactivate", "reactivate", "reactivated", "Let a deactivated account log in again."),
        ("logout-everywhere", "revoke_sessions", "every session and token revoked",
         "End every session and refresh token of an account.")):
    users_group.command(_name)(_user_action(_action, _done, _help))


@users_group.command("delete")
@click.argument("identifier", metavar="EMAIL_OR_PHONE")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_command(identifier: str, yes: bool) -> None:
    """Delete an account as its owner can: every session ends now, and the account and
    its Stripe customer are erased after ACCOUNT_DELETION_GRACE (0: at once). The
    owner's email carries a cancel link. Audited. The last staff member cannot go."""
    if not yes:
        click.confirm(f"Delete the account {identifier}?", abort=True)
    try:
        due = services().account_data.delete_by_staff(identifier)
    except DomainError as exc:
        raise _refused(exc) from exc
    click.echo(f"{identifier}: erased" if due is None else
               f"{identifier}: closed; erased at {due.isoformat()} unless cancelled")


@users_group.command("invite")
@click.argument("email")
@click.option("--staff", is_flag=True, help="The account is created as a staff member.")
def invite_command(email: str, staff: bool) -> None:
    """Email an invitation to EMAIL (needed to bootstrap when REGISTRATION=invite)."""
    try:
        invitation = services().invitations.invite(None, email, as_staff=staff)
    except DomainError as exc:
        raise _refused(exc) from exc
    click.echo(f"Invitation #{invitation.id} queued for {invitation.email}.")


def register(app: Flask) -> None:
    app.cli.add_command(worker_command)
    app.cli.add_command(users_group)
