"""The SQLAlchemy unit of work: one session transaction, rolled back unless committed."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.application.interfaces import UniqueConflict, UnitOfWork
from webapp.domain.model import OutboxMessage
from webapp.infrastructure.billing_repositories import (
    SqlBillingEventRepository,
    SqlSubscriptionRepository,
)
from webapp.infrastructure.db_faults import check_writable
from webapp.infrastructure.mfa_repositories import (
    SqlMfaChallengeRepository,
    SqlRecoveryCodeRepository,
    SqlTotpRepository,
)
from webapp.infrastructure.outbox_repository import SqlOutboxRepository
from webapp.infrastructure.passkey_repositories import (
    SqlPasskeyRepository,
    SqlWebAuthnChallengeRepository,
)
from webapp.infrastructure.personal_data import (
    SqlAddressChangeRepository,
    SqlPersonalDataRepository,
)
from webapp.infrastructure.repositories import (
    SqlAuditRepository,
    SqlCodeRepository,
    SqlInvitationRepository,
    SqlKnownDeviceRepository,
    SqlRefreshFamilyRepository,
    SqlUserRepository,
)

# An execution option: this connection only reads, so SQLite's BEGIN may be deferred.
DEFERRED_BEGIN = "webapp_deferred_begin"


class Handover(Protocol):
    """Inline delivery (dispatch.py): claims each message as it is queued, and is handed
    the transaction's messages after the commit."""

    def claim(self, message: OutboxMessage) -> None: ...

    def kick(self, messages: Sequence[OutboxMessage] = ()) -> None: ...


class SqlAlchemyUnitOfWork(UnitOfWork):
    """With a ``handover`` (inline delivery), the messages this transaction queued go to
    the delivery thread once it has committed."""

    def __init__(self, session_factory: Callable[[], Session],
                 handover: Handover | None = None) -> None:
        self._session_factory = session_factory
        self._handover = handover

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        self.session = self._session_factory()
        self.users = SqlUserRepository(self.session)
        self.codes = SqlCodeRepository(self.session)
        self.families = SqlRefreshFamilyRepository(self.session)
        self.outbox = SqlOutboxRepository(
            self.session, self._handover.claim if self._handover is not None else None)
        self.audit = SqlAuditRepository(self.session)
        self.invitations = SqlInvitationRepository(self.session)
        self.subscriptions = SqlSubscriptionRepository(self.session)
        self.billing_events = SqlBillingEventRepository(self.session)
        self.totp = SqlTotpRepository(self.session)
        self.recovery_codes = SqlRecoveryCodeRepository(self.session)
        self.mfa_challenges = SqlMfaChallengeRepository(self.session)
        self.devices = SqlKnownDeviceRepository(self.session)
        self.passkeys = SqlPasskeyRepository(self.session)
        self.webauthn_challenges = SqlWebAuthnChallengeRepository(self.session)
        self.address_changes = SqlAddressChangeRepository(self.session)
        self.personal_data = SqlPersonalDataRepository(self.session)
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.rollback()
        if isinstance(exc, IntegrityError):
            # A flush inside the use case (e.g. the INSERT of a user whose address a
            # concurrent transaction has just taken) is a conflict too, not only commit.
            raise UniqueConflict(str(exc.orig)) from exc

    def commit(self) -> None:
        queued, self.outbox.added = self.outbox.added, []
        try:
            self.session.commit()
        except IntegrityError as exc:
            self.session.rollback()
            raise UniqueConflict(str(exc.orig)) from exc
        if queued and self._handover is not None:
            self._handover.kick(queued)

    def rollback(self) -> None:
        self.session.rollback()
        self.outbox.added = []

    def ping(self) -> None:
        """The database answers and takes writes (DatabaseRefusesWrites otherwise)."""
        self.session.execute(text("SELECT 1"))
        check_writable(self.session)


def tune_postgresql(engine: Engine, lock_timeout_ms: int) -> None:
    """A statement waits ``lock_timeout_ms`` for a lock, then fails (a 503), instead of
    holding the worker until gunicorn kills it."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001, ANN202
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
        dbapi_connection.commit()


def tune_sqlite(engine: Engine, busy_timeout_ms: int = 30_000) -> None:
    """WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE so that writers queue up
    instead of failing with 'database is locked' when two transactions upgrade at once."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001, ANN202
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if engine.url.database not in (None, "", ":memory:"):
            _journal_mode_wal(cursor, busy_timeout_ms)
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # noqa: ANN001, ANN202
        # A read-only reader (sqlite_reads.py) asks for a snapshot that takes no lock.
        deferred = connection.get_execution_options().get(DEFERRED_BEGIN)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def _journal_mode_wal(cursor, busy_timeout_ms: int) -> None:  # noqa: ANN001 - sqlite3's
    """``PRAGMA journal_mode=WAL``, tried again while the file is locked.

    On a new file (the limits' counters beside the database, created on first use), two
    workers' first connections race to turn it to WAL, and the loser is told "database is
    locked" at once, without the busy timeout: a 503 for one of the first requests after
    a start. It waits here instead, as long as the busy timeout would have."""
    import sqlite3  # only ever on a SQLite connection (not loaded on PostgreSQL)

    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)
