"""rate_counters: rate limits and lockouts shared by every worker and app server

Fixed-window counters of webapp/infrastructure/shared_limits.py (key, count, end of
the window). On SQLite the application keeps them in a file of their own beside the
database; the table is created here anyway, so both databases have one schema.

Revision ID: 0006_rate_counters
Revises: 0005_quiet_logins
"""
import sqlalchemy as sa
from alembic import op

revision = '0006_rate_counters'
down_revision = '0005_quiet_logins'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'rate_counters',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index('ix_rate_counters_expires_at', 'rate_counters', ['expires_at'])


def downgrade():
    op.drop_index('ix_rate_counters_expires_at', table_name='rate_counters')
    op.drop_table('rate_counters')
