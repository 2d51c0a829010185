"""turn second factors off where nothing can prove them

Until 8748a6a, removing the last passkey of an account that had once started, and not
finished, setting up an authenticator app left users.mfa_version set (and the recovery
codes alive): every sign-in then asked for a factor the account did not have, a lockout
only staff could lift. This puts such accounts where the fixed code puts them: no
second factor, no recovery codes. Accounts with a confirmed app or a passkey are left
alone. There is nothing to restore on downgrade.

Revision ID: 0011_repair_factors
Revises: 0010_account_data
"""
from alembic import op


revision = '0011_repair_factors'
down_revision = '0010_account_data'
branch_labels = None
depends_on = None

_NO_FACTOR = """
    users.mfa_version <> ''
    AND NOT EXISTS (SELECT 1 FROM totp_devices t
                    WHERE t.user_id = users.id AND t.confirmed_at IS NOT NULL)
    AND NOT EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = users.id)
"""


def upgrade():
    op.execute(f"DELETE FROM recovery_codes WHERE user_id IN "
               f"(SELECT id FROM users WHERE {_NO_FACTOR})")
    op.execute(f"UPDATE users SET mfa_version = '' WHERE {_NO_FACTOR}")


def downgrade():
    pass
