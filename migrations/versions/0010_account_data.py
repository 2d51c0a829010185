"""address changes, account deletion

address_changes: an email or phone change from request to undo.
users.deletion_due_at: set while a deleted account waits for its erasure.

Revision ID: 0010_account_data
Revises: 0009_passkeys
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_account_data'
down_revision = '0009_passkeys'
branch_labels = None
depends_on = None


def upgrade():
    # Not batch mode: on SQLite that rebuilds the table and loses the expression indexes.
    op.add_column('users', sa.Column('deletion_due_at', sa.DateTime(timezone=True),
                                     nullable=True))
    op.create_table(
        'address_changes',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('channel', sa.String(8), nullable=False),
        sa.Column('old_value', sa.String(254), nullable=True),
        sa.Column('new_value', sa.String(254), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('undo_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_address_changes_user', 'address_changes',
                    ['user_id', 'channel', 'id'])


def downgrade():
    op.drop_index('ix_address_changes_user', table_name='address_changes')
    op.drop_table('address_changes')
    # SQLite (3.35+) drops a column in place, as PostgreSQL does.
    op.execute('ALTER TABLE users DROP COLUMN deletion_due_at')
