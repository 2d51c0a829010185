"""announce changed user rows (NOTIFY) for the app's per-process user caches

A trigger on users calls pg_notify('webapp_user_changed', <id>) after every UPDATE
or DELETE of a row, and '*' after a TRUNCATE; each app worker LISTENs and evicts that
user (webapp/infrastructure/user_cache.py). PostgreSQL only: SQLite has no cache.

Revision ID: 0004_user_notify
Revises: 0003_admin
"""
from alembic import op

revision = '0004_user_notify'
down_revision = '0003_admin'
branch_labels = None
depends_on = None

CHANNEL = 'webapp_user_changed'
FUNCTION = 'webapp_notify_user_change'


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('{CHANNEL}', '*');
    ELSE
        PERFORM pg_notify('{CHANNEL}', OLD.id::text);
    END IF;
    RETURN NULL;
END
$$""")
    op.execute(f"CREATE TRIGGER users_notify_change AFTER UPDATE OR DELETE ON users "
               f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()")
    op.execute(f"CREATE TRIGGER users_notify_truncate AFTER TRUNCATE ON users "
               f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("DROP TRIGGER IF EXISTS users_notify_truncate ON users")
    op.execute("DROP TRIGGER IF EXISTS users_notify_change ON users")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
