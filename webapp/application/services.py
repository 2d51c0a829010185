"""The bundle of use-case services that every door (API, web, admin, CLI) calls, and
``wire_services``: the one place the service graph is built, from the ports. The app's
bootstrap calls it with real adapters; the unit tests' ``make_world`` with fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from webapp.application.account_data import AccountDataService
from webapp.application.accounts import AccountService
from webapp.application.activity import ActivityService
from webapp.application.address_change import AddressChangeService
from webapp.application.admin import AdminService
from webapp.application.billing import BillingService, BillingSettings
from webapp.application.common import Ports
from webapp.application.customer_jobs import CustomerJobs
from webapp.application.delivery import DeliveryService
from webapp.application.devices import NewDeviceNotices
from webapp.application.health import HealthService
from webapp.application.interfaces import (
    Authenticators,
    BillingGateway,
    Clock,
    LoginStore,
    Mailer,
    SecretBox,
    SessionStore,
    SmsSender,
    StaffQueries,
    TokenCodec,
    WebAuthn,
    WebhookVerifier,
)
from webapp.application.invitations import InvitationService
from webapp.application.mfa import MfaService
from webapp.application.passkey_proof import PasskeyProof
from webapp.application.passkeys import PasskeyService
from webapp.application.password_reset import PasswordResetService
from webapp.application.policy import Policy
from webapp.application.second_factor import SecondFactorService
from webapp.application.sessions import SessionService
from webapp.application.signin import SignInService
from webapp.application.tokens import TokenService
from webapp.application.verification import VerificationService
from webapp.domain.model import MessageKind


@dataclass
class Services:
    accounts: AccountService
    verification: VerificationService
    signin: SignInService
    tokens: TokenService
    resets: PasswordResetService
    delivery: DeliveryService
    billing: BillingService
    invitations: InvitationService
    admin: AdminService
    health: HealthService
    mfa: MfaService
    second_factor: SecondFactorService
    sessions: SessionService
    activity: ActivityService
    passkeys: PasskeyService
    address_changes: AddressChangeService
    account_data: AccountDataService
    _ports: Ports = field(repr=False)  # the doors see only the policy and the clock

    @property
    def policy(self) -> Policy:
        """The settings the pages show (limits, lifetimes)."""
        return self._ports.policy

    @property
    def clock(self) -> Clock:
        """The time, for pages that show how long something has left."""
        return self._ports.clock


@dataclass(frozen=True)
class Adapters:
    """The ports that only one service needs, beside the shared ``Ports``."""

    codec: TokenCodec
    mailer: Mailer
    sms: SmsSender
    billing: BillingGateway
    webhooks: WebhookVerifier
    staff_queries: StaffQueries
    authenticators: Authenticators
    secret_box: SecretBox
    sessions: SessionStore  # browser sessions: the database, or Redis
    device_label: Callable[[str], str]  # "Firefox on Linux" from a user agent
    webauthn: WebAuthn
    logins: LoginStore | None = None  # None: the unit of work (see signin.UnitOfWorkLogins)
    billing_settings: BillingSettings | None = None
    keep_bodies: bool = True  # keep sent messages' bodies (the dev outbox page shows them)


def wire_services(ports: Ports, adapters: Adapters) -> Services:
    tokens = TokenService(ports, adapters.codec)
    signin = SignInService(ports, tokens, adapters.logins)
    notices = NewDeviceNotices(ports, adapters.device_label)
    signin.device_of = notices.device_of  # recorded with the login, in the same write
    signin.after_sign_in.append(notices.after_sign_in)
    verification = VerificationService(ports)
    resets = PasswordResetService(ports, tokens, verification)
    verification.finish_signup = resets.send_finish_signup  # see VerificationService._resend
    accounts = AccountService(ports, verification, tokens, resets)
    mfa = MfaService(ports, adapters.authenticators, adapters.secret_box,
                     PasskeyProof(ports, adapters.webauthn))
    second_factor = SecondFactorService(ports, mfa, signin, accounts)
    signin.checks.append(second_factor.check)  # after the password and the account state
    delivery = DeliveryService(
        ports, adapters.mailer, adapters.sms, adapters.billing, adapters.keep_bodies)
    sessions = SessionService(ports, tokens, adapters.sessions, adapters.device_label)
    account_data = AccountDataService(ports, tokens, sessions)
    customers = CustomerJobs(ports, adapters.billing)
    delivery.handlers.update({
        MessageKind.CUSTOMER_UPDATE: customers.update,
        MessageKind.CUSTOMER_DELETE: customers.delete,
        MessageKind.ACCOUNT_ERASE: account_data.erase_job,
    })
    return Services(
        accounts=accounts,
        verification=verification,
        signin=signin,
        tokens=tokens,
        resets=resets,
        delivery=delivery,
        billing=BillingService(
            ports, adapters.billing, adapters.webhooks, adapters.billing_settings
        ),
        invitations=InvitationService(ports, verification, tokens, signin),
        admin=AdminService(ports, verification, resets, tokens, adapters.staff_queries, mfa),
        health=HealthService(ports),
        mfa=mfa,
        second_factor=second_factor,
        sessions=sessions,
        activity=ActivityService(ports, adapters.device_label),
        passkeys=PasskeyService(ports, mfa, signin),
        address_changes=AddressChangeService(ports, tokens, mfa, account_data),
        account_data=account_data,
        _ports=ports,
    )
