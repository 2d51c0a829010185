"""announce user changes except a new last_login_at alone

Every login sets users.last_login_at, and every announcement (0004) wakes every
listening worker of every server. Nothing the workers cache shows it, so an UPDATE that
changes no other column is no longer announced. The row trigger becomes an UPDATE trigger
with that condition (any other column, including ones added later, still fires it) and a
DELETE trigger of its own (a DELETE trigger's condition cannot see NEW).
PostgreSQL only, like 0004; webapp/infrastructure/user_feed.py holds the same SQL.

Revision ID: 0005_quiet_logins
Revises: 0004_user_notify
"""
from alembic import op

revision = '0005_quiet_logins'
down_revision = '0004_user_notify'
branch_labels = None
depends_on = None

FUNCTION = 'webapp_notify_user_change'
QUIET = "'{last_login_at}'::text[]"


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("DROP TRIGGER IF EXISTS users_notify_change ON users")
    op.execute(f"CREATE TRIGGER users_notify_change AFTER UPDATE ON users FOR EACH ROW "
               f"WHEN ((to_jsonb(OLD) - {QUIET}) IS DISTINCT FROM (to_jsonb(NEW) - {QUIET})) "
               f"EXECUTE FUNCTION {FUNCTION}()")
    op.execute(f"CREATE TRIGGER users_notify_delete AFTER DELETE ON users "
               f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()")


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("DROP TRIGGER IF EXISTS users_notify_delete ON users")
    op.execute("DROP TRIGGER IF EXISTS users_notify_change ON users")
    op.execute(f"CREATE TRIGGER users_notify_change AFTER UPDATE OR DELETE ON users "
               f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()")
