"""Request and response bodies of the JSON API (pydantic; also the OpenAPI schemas).

Requests are strict (a number is not a string) and ignore unknown fields, so
``is_admin``, ``is_verified`` or ``stripe_customer_id`` in a body do nothing.
"""

from __future__ import annotations

from datetime import datetime

from webapp.application.activity import Activity
from webapp.application.signin import SignedIn
from webapp.application.tokens import TokenPair
from webapp.domain.model import User
from webapp.domain.sessions import SessionEntry
from webapp.interface.api.model import ConfigDict, Field, RootModel, Schema

LONG = 4096  # far above any real value; the domain gives the precise limits


class In(Schema):
    model_config = ConfigDict(extra="ignore", strict=True, str_max_length=LONG)


class RegisterIn(In):
    email: str | None = Field(None, description="Email address; email and/or phone is required.",
                              examples=["jane@example.com"])
    phone: str | None = Field(None, description="E.164 (+14155550123) or national with the "
                              "default region.", examples=["+14155550123"])
    password: str = Field(description="8 to 128 characters, not a common password.",
                          examples=["correct horse battery staple"])
    first_name: str | None = Field(None, examples=["Jane"])
    last_name: str | None = Field(None, examples=["Doe"])


class CredentialsIn(In):
    email: str | None = Field(None, examples=["jane@example.com"])
    phone: str | None = None
    password: str


class RefreshIn(In):
    refresh: str


class TokenIn(In):
    token: str


class EmailVerifyIn(In):
    token: str | None = Field(None, description="The token from the emailed link.")
    email: str | None = None
    code: str | None = Field(None, description="The 6-digit code from the same email.")


class PhoneVerifyIn(In):
    phone: str
    code: str


class EmailIn(In):
    email: str


class PhoneIn(In):
    phone: str


class IdentifierIn(In):
    email: str | None = None
    phone: str | None = None


class ResetVerifyIn(In):
    token: str | None = None
    email: str | None = None
    phone: str | None = None
    code: str | None = None


class ResetConfirmIn(ResetVerifyIn):
    new_password: str
    confirm_password: str


class Out(Schema):
    model_config = ConfigDict(extra="forbid")


class UserOut(Out):
    id: int
    email: str | None
    phone: str | None
    first_name: str
    last_name: str
    email_verified: bool
    phone_verified: bool
    is_verified: bool
    created_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id or 0, email=user.email, phone=user.phone, first_name=user.first_name,
            last_name=user.last_name, email_verified=user.email_verified_at is not None,
            phone_verified=user.phone_verified_at is not None, is_verified=user.is_verified,
            created_at=user.created_at,
        )


class TokenPairOut(Out):
    access: str
    refresh: str

    @classmethod
    def of(cls, pair: TokenPair) -> TokenPairOut:
        return cls(access=pair.access, refresh=pair.refresh)


class LoginOut(Out):
    tokens: TokenPairOut
    user: UserOut

    @classmethod
    def of(cls, signed_in: SignedIn) -> LoginOut:
        assert signed_in.tokens is not None  # the API door's sign-ins carry a pair
        return cls(tokens=TokenPairOut.of(signed_in.tokens), user=UserOut.of(signed_in.user))


class DetailOut(Out):
    detail: str


class VerifiedOut(Out):
    detail: str
    user: UserOut | None = Field(
        None, description="The user, on the verification itself; absent when the address "
        "was already verified with this code (the repeat shows no account to anyone).")


class ValidOut(Out):
    valid: bool


class EmptyOut(Out):
    pass


class ErrorOut(Out):
    detail: str
    code: str
    errors: dict[str, list[str]] | None = None


class HealthOut(Out):
    status: str


class SessionOut(Out):
    id: str = Field(description="A browser session's or an API login's id (32 hex digits).")
    kind: str = Field(description='"browser" or "api"', examples=["browser"])
    created_at: datetime
    last_seen_at: datetime
    ip: str
    user_agent: str
    device: str = Field(examples=["Firefox on Linux"])
    current: bool = Field(description="The caller's own session.")

    @classmethod
    def of(cls, entry: SessionEntry) -> SessionOut:
        return cls(id=entry.id, kind=entry.kind.value, created_at=entry.created_at,
                   last_seen_at=entry.last_seen_at, ip=entry.ip, user_agent=entry.user_agent,
                   device=entry.device, current=entry.current)


class SessionListOut(RootModel[list[SessionOut]]):
    """Every way the account is signed in, newest first."""


class ActivityOut(Out):
    event: str = Field(examples=["authn_login_success"])
    at: datetime
    ip: str
    user_agent: str
    device: str
    by_staff: bool

    @classmethod
    def of(cls, item: Activity) -> ActivityOut:
        return cls(event=item.event, at=item.at, ip=item.ip, user_agent=item.user_agent,
                   device=item.device, by_staff=item.by_staff)


class ActivityListOut(RootModel[list[ActivityOut]]):
    """The user's security events, newest first (a page; see the Link header)."""
