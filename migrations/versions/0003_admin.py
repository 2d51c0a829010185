"""staff search indexes

Prefix search on email, phone and case-folded names for the staff user list,
and (flag, id) indexes so that staff/deactivated filters page without a scan.
On PostgreSQL the prefix indexes use text_pattern_ops, so LIKE 'prefix%' uses
them under any collation.

Revision ID: 0003_admin
Revises: 0002_billing
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_admin'
down_revision = '0002_billing'
branch_labels = None
depends_on = None

OPS = "text_pattern_ops"


def upgrade():
    op.create_index('ix_users_email_prefix', 'users', ['email'],
                    postgresql_ops={'email': OPS})
    op.create_index('ix_users_phone_prefix', 'users', ['phone'],
                    postgresql_ops={'phone': OPS})
    op.create_index('ix_users_first_name_prefix', 'users',
                    [sa.func.lower(sa.text('first_name')).label('first_lower')],
                    postgresql_ops={'first_lower': OPS})
    op.create_index('ix_users_last_name_prefix', 'users',
                    [sa.func.lower(sa.text('last_name')).label('last_lower')],
                    postgresql_ops={'last_lower': OPS})
    op.create_index('ix_users_staff', 'users', ['is_staff', 'id'])
    op.create_index('ix_users_active', 'users', ['is_active', 'id'])
    op.create_index('ix_audit_events_actor_id', 'audit_events', ['actor_id'])


def downgrade():
    op.drop_index('ix_audit_events_actor_id', table_name='audit_events')
    for name in ('ix_users_active', 'ix_users_staff', 'ix_users_last_name_prefix',
                 'ix_users_first_name_prefix', 'ix_users_phone_prefix',
                 'ix_users_email_prefix'):
        op.drop_index(name, table_name='users')
