"""Migration 0011 turns second factors off where nothing can prove them (accounts that
an earlier bug left asking for a factor they did not have), on the database a deploy
migrates: SQLite, and PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from tests.e2e.servers import app_env, flask

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _user(connection: sa.Connection, uid: int, mfa_version: str) -> None:
    connection.execute(sa.text(
        "INSERT INTO users (id, email, password_hash, first_name, last_name, uniquifier, "
        "is_active, is_staff, created_at, mfa_version) VALUES (:id, :email, 'h', '', '', "
        ":u, true, false, :now, :v)"),
        {"id": uid, "email": f"user{uid}@example.com", "u": f"u{uid}", "now": NOW,
         "v": mfa_version})
    connection.execute(sa.text(
        "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (:id, :h, :now)"),
        {"id": uid, "h": f"code-of-{uid}", "now": NOW})


def _app(connection: sa.Connection, uid: int, confirmed: bool) -> None:
    connection.execute(sa.text(
        "INSERT INTO totp_devices (user_id, secret, created_at, confirmed_at) "
        "VALUES (:id, 's', :now, :confirmed)"),
        {"id": uid, "now": NOW, "confirmed": NOW if confirmed else None})


def _passkey(connection: sa.Connection, uid: int) -> None:
    connection.execute(sa.text(
        "INSERT INTO passkeys (user_id, credential_id, public_key, user_handle, name, "
        "created_at, sign_count, transports, backup_eligible, backed_up) VALUES "
        "(:id, :cred, 'k', 'h', 'Laptop', :now, 0, '[]', false, false)"),
        {"id": uid, "cred": f"cred-{uid}", "now": NOW})


def test_accounts_left_with_no_provable_factor_get_it_turned_off(empty_database: str):
    env = app_env(empty_database)
    flask(["db", "upgrade", "0010_account_data"], env)
    engine = sa.create_engine(empty_database)
    with engine.begin() as connection:
        _user(connection, 1, "stuck")  # an unfinished app set-up only: the bug's victims
        _app(connection, 1, confirmed=False)
        _user(connection, 2, "stuck2")  # nothing at all behind the stamp
        _user(connection, 3, "app")  # a confirmed app: left alone
        _app(connection, 3, confirmed=True)
        _user(connection, 4, "key")  # a passkey: left alone
        _passkey(connection, 4)
        _user(connection, 5, "")  # no factor, nothing to do (its stray code stays)
    flask(["db", "upgrade"], env)
    with engine.connect() as connection:
        versions = dict(connection.execute(sa.text("SELECT id, mfa_version FROM users")).all())
        codes = sorted(r[0] for r in connection.execute(
            sa.text("SELECT user_id FROM recovery_codes")))
        pending = connection.execute(sa.text("SELECT user_id FROM totp_devices "
                                             "WHERE confirmed_at IS NULL")).scalars().all()
    engine.dispose()
    assert versions == {1: "", 2: "", 3: "app", 4: "key", 5: ""}
    assert codes == [3, 4, 5]
    assert pending == [1]  # an unfinished set-up is no factor; finishing it still works
