"""Operator commands: ``worker [--burst]``, ``users ...`` (and ``db ...`` from Flask-Migrate)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, ScriptInfo, with_appcontext

from webapp.application.billing_backfill import backfill_customers
from webapp.application.interfaces.staff import UserFilter
from webapp.domain.errors import DomainError, ValidationFailed
from webapp.interface import services
from webapp.interface.limits import announce_limit_stores

log = logging.getLogger(__name__)
RETRY_CAP = 60.0  # seconds between tries while the database (or anything) is down
PASSWORD_TRIES = 3  # a refused password is asked for again, this many times in all
AUDIT_FILE = "audit.log"  # in the instance folder: the audit lines of one-off commands


def audit_to_file(command: Callable[..., Any]) -> Callable[..., Any]:
    """A one-off command prints one sentence for a person; its audit events, also kept in
    the audit table (/admin/audit), go as JSON lines to ``instance/audit.log``."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        audit = logging.getLogger("webapp.audit")
        saved = audit.handlers[:]
        path = Path(current_app.instance_path) / AUDIT_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.filters = [f for h in saved for f in h.filters][:1]  # the secret mask
        audit.handlers = [handler]
        try:
            return command(*args, **kwargs)
        finally:
            audit.handlers = saved
            handler.close()

    return wrapper


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
    announce_limit_stores(current_app)  # a long-running process: said once, as a server does
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


class OperatorGroup(AppGroup):
    """A group of one-off commands: a database that does not answer, refuses writes or
    lacks this release's tables is said as the operator's problem to fix (the words the
    health check uses), exit status 1, not as a traceback. Other errors stay tracebacks:
    they are bugs."""

    def invoke(self, ctx: click.Context) -> Any:
        with database_faults_said(ctx.ensure_object(ScriptInfo).load_app()):
            return super().invoke(ctx)


@contextmanager
def database_faults_said(app: Flask) -> Iterator[None]:
    try:
        yield
    except click.ClickException:
        raise
    except Exception as exc:
        classify = app.extensions.get("database_fault")
        fault = classify(exc) if classify else None
        if fault is None:
            raise
        raise click.ClickException(fault.detail) from exc


users_group = OperatorGroup("users", help="Manage accounts: the first admin, staff, "
                            "deactivation.")


def _refused(exc: DomainError) -> click.ClickException:
    details = [m for ms in getattr(exc, "errors", {}).values() for m in ms]
    return click.ClickException(" ".join(details) or exc.detail)


@users_group.command("create-admin")
@click.argument("email")
@click.option("--password", help="The password (prompted for, hidden, when not given).")
@audit_to_file
def create_admin_command(email: str, password: str | None) -> None:
    """Create a verified staff account for EMAIL, or promote (and verify) an existing one.

    An existing account also gets the given password, and its sessions end.
    The password rules of every account apply; a refused password typed at the prompt
    is asked for again (three tries in all).
    """
    user, created = _create_admin(email, password)
    verb = "Created" if created else "Promoted"
    click.echo(f"{verb} staff account {user.email} (id {user.id}). Log in at /login.")


def _create_admin(email: str, password: str | None) -> tuple[Any, bool]:
    prompted = password is None
    for attempt in range(1, PASSWORD_TRIES + 1):
        if prompted:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            return services().admin.create_admin(email, password or "")
        except ValidationFailed as exc:
            if not prompted or "password" not in exc.errors or attempt == PASSWORD_TRIES:
                raise _refused(exc) from exc
            click.echo(f"{_refused(exc).message} Try another one.", err=True)
        except DomainError as exc:
            raise _refused(exc) from exc
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _user_action(action: str, done: str, help_text: str) -> click.Command:
    @click.argument("identifier", metavar="EMAIL_OR_PHONE")
    @audit_to_file
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


@users_group.command("mfa-off")
@click.argument("identifier", metavar="EMAIL_OR_PHONE")
@click.option("--reason", required=True, help="Why (kept in the audit log), e.g. how you "
              "checked who asked.")
@audit_to_file
def mfa_off_command(identifier: str, reason: str) -> None:
    """Turn off every second factor of an account (its authenticator app, passkeys and
    recovery codes): for someone who lost them and whose identity you checked. The user
    is told; audited, with the reason, as a command-line staff action."""
    admin = services().admin
    try:
        admin.act(None, admin.user_id_for(identifier), "mfa_off", reason=reason)
    except DomainError as exc:
        raise _refused(exc) from exc
    click.echo(f"{identifier}: second factors turned off; the user is told.")


@users_group.command("delete")
@click.argument("identifier", metavar="EMAIL_OR_PHONE")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@audit_to_file
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
               f"{identifier}: closed; erased at {due.isoformat()}"
               + (" unless cancelled" if services().policy.account_deletion_grace else ""))


@users_group.command("invite")
@click.argument("email")
@click.option("--staff", is_flag=True, help="The account is created as a staff member.")
@audit_to_file
def invite_command(email: str, staff: bool) -> None:
    """Email an invitation to EMAIL (needed to bootstrap when REGISTRATION=invite)."""
    try:
        invitation = services().invitations.invite(None, email, as_staff=staff)
    except DomainError as exc:
        raise _refused(exc) from exc
    click.echo(f"Invitation #{invitation.id} queued for {invitation.email}.")


billing_group = OperatorGroup("billing", help="Stripe: customers for accounts verified while off.")


@billing_group.command("backfill")
@click.option("--deliver/--no-deliver", default=True, show_default=True,
              help="Create the customers now (as `worker --burst`), or leave them to the worker.")
@audit_to_file
def backfill_command(deliver: bool) -> None:
    """Queue a Stripe customer for every verified account without one.

    Run it once after setting STRIPE_SECRET_KEY on a site that ran with billing off:
    no Stripe job is queued while billing is off. Safe to run again: a customer is
    never created twice.
    """
    admin = services().admin
    try:
        queued = backfill_customers(admin)
    except DomainError as exc:
        raise _refused(exc) from exc
    if queued and deliver:
        name = f"backfill:{socket.gethostname()}:{os.getpid()}"
        while services().delivery.deliver_due(name, 50):
            pass
    page = admin.queries.users(UserFilter(verified=True, customer=False, limit=1000))
    left = f"{len(page.users)}{'+' if page.has_next else ''}"
    click.echo(f"Queued a Stripe customer for {queued} verified account(s); "
               f"{left} still without one" + (" (see /admin/queue)." if page.users else "."))


@click.command("mfa-reseal")
@with_appcontext
def mfa_reseal_command() -> None:
    """Seal every stored authenticator-app secret again with the first MFA_ENCRYPTION_KEY,
    so that the keys after it can be dropped. Safe to run again."""
    with database_faults_said(current_app):
        resealed, unreadable = services().mfa.reseal_secrets()
    click.echo(f"{resealed} secret(s) sealed with the newest key.")
    if unreadable:
        raise click.ClickException(f"{unreadable} secret(s) open with none of the configured "
                                   "keys: keep the key they were sealed with listed.")


def register(app: Flask) -> None:
    app.cli.add_command(worker_command)
    app.cli.add_command(users_group)
    app.cli.add_command(billing_group)
    app.cli.add_command(mfa_reseal_command)
