"""browser sessions on the server, known devices, ended API logins

browser_sessions: one row per signed-in browser (the database session store; with
REDIS_URL set, Redis holds them instead and this table stays empty). known_devices: the
devices each account signed in from, for new-device notices. users.ended_families: API
logins ended from the device list lately, so that their access tokens fail at their next
check (an UPDATE of users, so PostgreSQL's change feed evicts the cached user too).

Revision ID: 0008_sessions
Revises: 0007_mfa
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_sessions'
down_revision = '0007_mfa'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'browser_sessions',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ip', sa.String(length=45), nullable=False),
        sa.Column('user_agent', sa.String(length=255), nullable=False),
        sa.Column('device', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_browser_sessions_user_id', 'browser_sessions', ['user_id'])
    op.create_table(
        'known_devices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_known_devices_user_key', 'known_devices', ['user_id', 'key'],
                    unique=True)
    # A plain ADD/DROP COLUMN (SQLite has both): a batch copy of users would drop the
    # expression indexes SQLite cannot reflect (0003's lower(name) ones).
    op.add_column('users', sa.Column('ended_families', sa.Text(), nullable=False,
                                     server_default=''))


def downgrade():
    op.drop_column('users', 'ended_families')
    op.drop_index('ix_known_devices_user_key', table_name='known_devices')
    op.drop_table('known_devices')
    op.drop_index('ix_browser_sessions_user_id', table_name='browser_sessions')
    op.drop_table('browser_sessions')
