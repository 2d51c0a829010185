"""user ids are never given out twice (SQLite)

On SQLite, users.id was a plain INTEGER PRIMARY KEY: a new row takes the largest id in
the table plus one, so erasing the newest account handed its id to the next registration,
and whatever still named that id outside the row (Stripe metadata, log and audit lines,
rate-limit counters, caches, tokens) then pointed at a stranger. This rebuilds users with
AUTOINCREMENT, which never reuses an id, following SQLite's "other kinds of table schema
changes" procedure (https://www.sqlite.org/lang_altertable.html): with foreign key
enforcement off, in one transaction, create users_new, copy every row, drop users, rename
users_new to users, recreate its indexes from their own SQL (the lower(name) expression
indexes included, which a batch-mode copy would lose), check the foreign keys. The
fourteen tables that reference users (sixteen foreign keys) name it by name and are left
untouched; renaming users_new (referenced by nothing) rewrites nothing else, whatever
legacy_alter_table says. sqlite_sequence is seeded with the largest id in use, so no id
below it comes back either. An id freed above that largest one before this migration is
not in users any more and may be given once more, one last time (the billing checks made
for reused ids still guard that case).

PostgreSQL does nothing: users.id was a SERIAL from the start (0001), whose sequence
never goes back.

Downgrade rebuilds users the same way without AUTOINCREMENT (the table of 0011), keeping
every row.

Revision ID: 0012_user_ids
Revises: 0011_repair_factors
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_user_ids'
down_revision = '0011_repair_factors'
branch_labels = None
depends_on = None

_COLUMNS = (
    ('id', sa.Integer(), False),
    ('email', sa.String(254), True),
    ('phone', sa.String(20), True),
    ('password_hash', sa.String(255), False),
    ('first_name', sa.String(100), False),
    ('last_name', sa.String(100), False),
    ('uniquifier', sa.String(64), False),
    ('email_verified_at', sa.DateTime(timezone=True), True),
    ('phone_verified_at', sa.DateTime(timezone=True), True),
    ('is_active', sa.Boolean(), False),
    ('is_staff', sa.Boolean(), False),
    ('stripe_customer_id', sa.String(255), True),
    ('created_at', sa.DateTime(timezone=True), False),
    ('last_login_at', sa.DateTime(timezone=True), True),
    ('password_changed_at', sa.DateTime(timezone=True), True),
    ('mfa_version', sa.String(32), False),
    ('ended_families', sa.Text(), False),
    ('deletion_due_at', sa.DateTime(timezone=True), True),
)
_DEFAULT_EMPTY = ('mfa_version', 'ended_families')


def upgrade():
    _rebuild_users(autoincrement=True)


def downgrade():
    _rebuild_users(autoincrement=False)


def _rebuild_users(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    if op.get_context().as_sql:
        # The indexes are rebuilt from the database's own SQL, which a script has not.
        raise RuntimeError('0012_user_ids rebuilds users on SQLite from what the database '
                           'holds: run it against the database (flask db upgrade), not '
                           'as an SQL script (--sql)')
    # PRAGMA foreign_keys does nothing inside a transaction, and with enforcement on,
    # DROP TABLE users would first delete every row, cascading to the fourteen tables
    # that reference it. So: out of the migrations' transaction, then our own.
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        raw = bind.connection.driver_connection
        if raw.in_transaction:  # the app's engine opens one on every begin (tune_sqlite)
            raw.execute('COMMIT')
        enforced = raw.execute('PRAGMA foreign_keys').fetchone()[0]
        raw.execute('PRAGMA foreign_keys=OFF')
        try:
            raw.execute('BEGIN IMMEDIATE')
            try:
                _copy(bind, raw, autoincrement)
                raw.execute('COMMIT')
            except BaseException:
                raw.execute('ROLLBACK')
                raise
        finally:
            raw.execute(f'PRAGMA foreign_keys={1 if enforced else 0}')


def _copy(bind: sa.Connection, raw, autoincrement: bool) -> None:  # noqa: ANN001 - sqlite3's
    names = ', '.join(name for name, _, _ in _COLUMNS)
    indexes = [sql for (sql,) in raw.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'users' "
        "AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY rowid")]
    used = raw.execute('SELECT max(id) FROM users').fetchone()[0] or 0
    broken_before = set(raw.execute('PRAGMA foreign_key_check').fetchall())
    if autoincrement and raw.execute("SELECT 1 FROM sqlite_master "
                                     "WHERE name = 'sqlite_sequence'").fetchone():
        # Run again after a crash before alembic_version moved: keep the counter.
        seq = raw.execute("SELECT max(seq) FROM sqlite_sequence "
                          "WHERE name = 'users'").fetchone()[0]
        used = max(used, seq or 0)
    table = sa.Table(
        'users_new', sa.MetaData(),
        *(sa.Column(name, kind, nullable=nullable,
                    server_default='' if name in _DEFAULT_EMPTY else None)
          for name, kind, nullable in _COLUMNS),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('email'),
        sa.UniqueConstraint('phone'),
        sa.UniqueConstraint('stripe_customer_id'),
        sqlite_autoincrement=autoincrement,
    )
    raw.execute(str(sa.schema.CreateTable(table).compile(dialect=bind.dialect)))
    raw.execute(f'INSERT INTO users_new ({names}) SELECT {names} FROM users')
    raw.execute('DROP TABLE users')
    raw.execute('ALTER TABLE users_new RENAME TO users')
    for sql in indexes:
        raw.execute(sql)
    if autoincrement:
        raw.execute("DELETE FROM sqlite_sequence WHERE name = 'users'")
        raw.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('users', ?)", (used,))
    # Only what the rebuild broke: orphans older than it are not its to judge.
    broken = set(raw.execute('PRAGMA foreign_key_check').fetchall()) - broken_before
    if broken:
        raise RuntimeError(f'the rebuild of users broke foreign keys: {sorted(broken)[:10]}')
