"""The bundle of use-case services that every door (API, web, admin, CLI) calls."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.application.accounts import AccountService
from webapp.application.admin import AdminService
from webapp.application.billing import BillingService
from webapp.application.common import Toolkit
from webapp.application.delivery import DeliveryService
from webapp.application.invitations import InvitationService
from webapp.application.password_reset import PasswordResetService
from webapp.application.tokens import TokenService
from webapp.application.verification import VerificationService


@dataclass
class Services:
    kit: Toolkit
    accounts: AccountService
    verification: VerificationService
    tokens: TokenService
    resets: PasswordResetService
    delivery: DeliveryService
    billing: BillingService
    invitations: InvitationService
    admin: AdminService
