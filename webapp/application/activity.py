"""A user's own security history, read from the audit log that the staff pages show:
sign-ins and failed sign-ins, password, second-factor, address and session changes, and
what staff did to the account; newest first, a page at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from webapp.application.common import Ports, Service
from webapp.domain.model import AuditEvent

PAGE_SIZE = 50
MAX_PAGE = 10_000  # no user has that many pages; bounds the OFFSET a request can ask for

# The events a user is shown (the audit log has others: delivery, billing, invitations...).
SECURITY_EVENTS = (
    "authn_login_success", "authn_login_fail", "authn_login_lock", "authn_logout",
    "authn_logout_all", "authn_token_reuse", "authn_password_change",
    "authn_password_change_fail", "authn_password_reset_requested",
    "authn_password_reset_done", "authz_admin", "authz_change", "user_created",
    "user_verified", "unverified_address_released", "session_ended",
    "sessions_ended_others", "new_device_signin",
    # the second factor
    "mfa_totp_added", "mfa_totp_removed", "mfa_recovery_codes_regenerated",
    "mfa_recovery_code_used", "mfa_turned_off_by_staff", "mfa_turned_off_by_undo",
    "authn_mfa_success", "authn_mfa_fail", "authn_reauthenticated", "authn_reauth_fail",
    "mfa_passkey_added", "mfa_passkey_removed",
    # address changes, export and deletion
    "address_change_requested", "address_changed", "address_change_undone",
    "account_exported", "account_delete_requested", "account_delete_cancelled",
)


@dataclass(frozen=True)
class Activity:
    """One event as its user is shown it."""

    event: str
    at: datetime
    ip: str
    user_agent: str
    device: str
    by_staff: bool  # done to the account by a staff member


@dataclass(frozen=True)
class ActivityPage:
    events: list[Activity]
    page: int
    has_next: bool


class ActivityService(Service):
    def __init__(self, ports: Ports, device_label: Callable[[str], str]) -> None:
        super().__init__(ports)
        self.device_label = device_label

    def page(self, user_id: int, page: int = 1) -> ActivityPage:
        """Page ``page`` (from 1) of the user's security events, newest first."""
        page = min(max(page, 1), MAX_PAGE)
        with self.ports.uow() as uow:
            events = uow.audit.page(user_id, SECURITY_EVENTS, (page - 1) * PAGE_SIZE,
                                    PAGE_SIZE + 1)
        shown = [self._shown(event) for event in events[:PAGE_SIZE]]
        return ActivityPage(shown, page, len(events) > PAGE_SIZE)

    def _shown(self, event: AuditEvent) -> Activity:
        ip, agent = ("", "") if event.by_staff else (event.ip, event.user_agent)
        return Activity(event=event.kind, at=event.created_at, ip=ip, user_agent=agent,
                        device=self.device_label(agent), by_staff=event.by_staff)
