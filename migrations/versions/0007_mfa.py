"""second factors: authenticator apps, recovery codes, sign-ins waiting for a factor

users.mfa_version: empty while the account has no second factor; a random stamp,
renewed whenever a factor is added or removed (trusted-browser cookies are bound to it).

Revision ID: 0007_mfa
Revises: 0006_rate_counters
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_mfa'
down_revision = '0006_rate_counters'
branch_labels = None
depends_on = None


def upgrade():
    # Not batch mode: on SQLite that rebuilds the table and loses the expression indexes.
    op.add_column('users', sa.Column('mfa_version', sa.String(32), nullable=False,
                                     server_default=''))
    op.create_table(
        'totp_devices',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'),
                  nullable=False, unique=True),
        sa.Column('secret', sa.String(255), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_step', sa.Integer(), nullable=True),
    )
    op.create_table(
        'recovery_codes',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('code_hash', sa.String(64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_recovery_codes_user_id', 'recovery_codes', ['user_id'])
    op.create_table(
        'mfa_challenges',
        sa.Column('id', sa.String(64), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('door', sa.String(16), nullable=False),
        sa.Column('channel', sa.String(8), nullable=False),
        sa.Column('account', sa.String(254), nullable=False),
        sa.Column('fingerprint', sa.String(64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_mfa_challenges_user_id', 'mfa_challenges', ['user_id'])
    op.create_index('ix_mfa_challenges_expires_at', 'mfa_challenges', ['expires_at'])


def downgrade():
    op.drop_table('mfa_challenges')
    op.drop_table('recovery_codes')
    op.drop_table('totp_devices')
    # SQLite (3.35+) drops a column in place, as PostgreSQL does.
    op.execute('ALTER TABLE users DROP COLUMN mfa_version')
