"""The tunable numbers of the use cases, read from configuration once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Policy:
    base_url: str = "http://localhost:5000"
    site_name: str = "Accounts"
    default_region: str | None = "US"
    registration_open: bool = True
    access_ttl: timedelta = timedelta(seconds=900)
    refresh_ttl: timedelta = timedelta(seconds=1_209_600)
    refresh_grace: timedelta = timedelta(seconds=5)
    email_code_ttl: timedelta = timedelta(hours=24)
    sms_code_ttl: timedelta = timedelta(minutes=10)
    reset_ttl: timedelta = timedelta(hours=1)
    # A resend within this time of the last message is quietly skipped (only the newest
    # code counts, so a second one would only confuse). Off unless configured (RESEND_COOLDOWN).
    resend_cooldown: timedelta = timedelta(0)
    issuer: str = "webapp"
    delivery_max_attempts: int = 10
    # A claimed message belongs to one worker until its lease ends; after that another
    # worker may take it. A send is only started while ``delivery_send_budget`` of the
    # lease is left, and every gateway timeout is far below that budget, so two workers
    # never send the same message because one of them was slow.
    delivery_lease: timedelta = timedelta(seconds=60)
    delivery_send_budget: timedelta = timedelta(seconds=30)
    delivery_backoff: timedelta = timedelta(seconds=10)  # doubles after each failed attempt
    invitation_ttl: timedelta = timedelta(days=7)
    invitations_by_users: bool = False
    # Sensitive changes (factors, addresses, password, deletion) need a sign-in this recent.
    reauth_max_age: timedelta = timedelta(seconds=300)
    mfa_required_for_staff: bool = False
    # A deleted account is erased this long after the request (its cancel link works until
    # then); 0 erases it at once (ACCOUNT_DELETION_GRACE).
    account_deletion_grace: timedelta = timedelta(days=7)
    # STRIPE_SECRET_KEY unset: no Stripe customer is queued, counted or offered; the
    # customers missing when billing is turned on come from ``flask billing backfill``.
    billing_enabled: bool = True
    # A browser session not seen for this long has ended (its record expires with it).
    session_idle: timedelta = timedelta(days=30)

    def link(self, path: str) -> str:
        """An absolute link for a message; the host never comes from a request."""
        return self.base_url.rstrip("/") + path
