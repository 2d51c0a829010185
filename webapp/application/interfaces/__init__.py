"""The ports the use cases need. Infrastructure implements them; tests use fakes.

Protocols, so that a fake only has to have the right shape. One module per family:
security (hashing, signing, the clock), messaging, billing, requests (who is calling,
rate-limit counters), storage (repositories, the unit of work, readers, the login
store) and staff (the staff pages' read side).
"""

from webapp.application.interfaces.billing import BillingGateway, WebhookVerifier
from webapp.application.interfaces.messaging import (
    Mailer,
    MessageRenderer,
    RenderedMessage,
    SmsSender,
)
from webapp.application.interfaces.personal_data import (
    AddressChangeRepository,
    PersonalDataRepository,
)
from webapp.application.interfaces.requests import RateLimiter, RequestContext, RequestInfo
from webapp.application.interfaces.security import (
    Authenticators,
    BreachedPasswords,
    Clock,
    CodeHasher,
    LinkSigner,
    PasswordHasher,
    SecretBox,
    TokenCodec,
)
from webapp.application.interfaces.staff import (
    PAGE_SIZE,
    FunnelDay,
    SearchTerms,
    StaffQueries,
    UserFilter,
    UserPage,
)
from webapp.application.interfaces.storage import (
    AuditRepository,
    BillingEventRepository,
    CodeRepository,
    InvitationRepository,
    LoginStore,
    MfaChallengeRepository,
    OutboxRepository,
    ReadOnlyUnitOfWork,
    ReadOnlyUnitOfWorkFactory,
    RecoveryCodeRepository,
    RefreshFamilyRepository,
    SubscriptionRepository,
    SuccessfulLogin,
    TotpRepository,
    UniqueConflict,
    UnitOfWork,
    UnitOfWorkFactory,
    UserReader,
    UserRepository,
)

__all__ = [
    "AddressChangeRepository",
    "PersonalDataRepository",
    "PAGE_SIZE",
    "AuditRepository",
    "Authenticators",
    "MfaChallengeRepository",
    "RecoveryCodeRepository",
    "SecretBox",
    "TotpRepository",
    "BillingEventRepository",
    "BillingGateway",
    "BreachedPasswords",
    "Clock",
    "CodeHasher",
    "CodeRepository",
    "FunnelDay",
    "InvitationRepository",
    "LinkSigner",
    "LoginStore",
    "Mailer",
    "MessageRenderer",
    "OutboxRepository",
    "PasswordHasher",
    "RateLimiter",
    "ReadOnlyUnitOfWork",
    "ReadOnlyUnitOfWorkFactory",
    "RefreshFamilyRepository",
    "RenderedMessage",
    "RequestContext",
    "RequestInfo",
    "SearchTerms",
    "SmsSender",
    "StaffQueries",
    "SubscriptionRepository",
    "SuccessfulLogin",
    "TokenCodec",
    "UniqueConflict",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserFilter",
    "UserPage",
    "UserReader",
    "UserRepository",
    "WebhookVerifier",
]
