"""The account endpoints at /api/auth/*. Each view: parse, call one service, reply."""

from __future__ import annotations

from flask import Response

from webapp.application.signin import Door, SignedIn
from webapp.domain.errors import InvalidToken, SecondFactorRequired, ValidationFailed
from webapp.domain.model import User
from webapp.interface.api.base import (
    ApiError,
    bearer_user,
    endpoint,
    optional_bearer_user,
    reply,
    services,
)
from webapp.interface.api.mfa_schemas import LoginAnswerOut, MfaRequiredOut, TokenAnswerOut
from webapp.interface.api.schemas import (
    CredentialsIn,
    DetailOut,
    EmailIn,
    EmailVerifyIn,
    EmptyOut,
    ErrorOut,
    IdentifierIn,
    LoginOut,
    PhoneIn,
    PhoneVerifyIn,
    RefreshIn,
    RegisterIn,
    ResetConfirmIn,
    ResetVerifyIn,
    TokenIn,
    TokenPairOut,
    UserOut,
    ValidOut,
    VerifiedOut,
)

INVALID = ("Invalid input, or an invalid, expired or spent token or code", ErrorOut)
UNAUTHORIZED = ("Not authenticated", ErrorOut)
SENT = "If the address belongs to an account that needs it, a message is on its way."
VERIFIED = "Verified."
ALREADY_VERIFIED = "Already verified."
SIGN_IN_REQUIRED = ("An address added beside the account's proven one, verified without the "
                    "owner's bearer token (or with another user's): `sign_in_required`; the "
                    "code or link is not spent", ErrorOut)
VERIFIED_DOC = ("Verified, with the user; verifying twice is harmless, and the repeat of a "
                "used code answers only the detail")


def unauthorized(exc: InvalidToken) -> ApiError:
    return ApiError(401, exc.detail, exc.code)


@endpoint("/auth/register/", summary="Create an account", body=RegisterIn,
          responses={201: ("Accepted; the same body whether or not the address was taken",
                           DetailOut), 400: INVALID,
                     403: ("Registration is by invitation only", ErrorOut)})
def register(data: RegisterIn) -> Response:
    """Register with email and/or phone. Verification is sent by email link + code or SMS code.

    The answer never says whether the address already had an account: its owner is
    told by email or SMS instead.
    """
    services().accounts.register(email=data.email, phone=data.phone, password=data.password,
                                 first_name=data.first_name, last_name=data.last_name)
    return reply(DetailOut(detail="Check your email or phone to verify your account."), 201)


LOGIN_FAILURES = {
    400: INVALID, 401: ("Wrong credentials (one answer for unknown and wrong)", ErrorOut),
    403: ("code=unverified: the password was right, the account is not verified", ErrorOut),
}


@endpoint("/auth/login/", summary="Log in", body=CredentialsIn,
          responses={200: ("Tokens and the user; with a second factor on, an mfa_token "
                           "for login/mfa/ instead", LoginAnswerOut), **LOGIN_FAILURES})
def login(data: CredentialsIn) -> Response:
    """Log in with email or phone and password; returns an access and a refresh token."""
    signed_in = _with_password(data)
    if isinstance(signed_in, MfaRequiredOut):
        return reply(signed_in)
    return reply(LoginOut.of(signed_in))


@endpoint("/auth/token/", summary="Obtain a token pair", body=CredentialsIn,
          responses={200: ("Access and refresh tokens; with a second factor on, an mfa_token "
                           "for login/mfa/ instead", TokenAnswerOut), **LOGIN_FAILURES})
def token_obtain(data: CredentialsIn) -> Response:
    """Like login, in the simplejwt shape: ``{"access", "refresh"}``."""
    signed_in = _with_password(data)
    if isinstance(signed_in, MfaRequiredOut):
        return reply(signed_in)
    assert signed_in.tokens is not None
    return reply(TokenPairOut.of(signed_in.tokens))


def _with_password(data: CredentialsIn) -> SignedIn | MfaRequiredOut:
    """The sign-in, or (a second factor is on) what to send to ``login/mfa/``."""
    try:
        return services().signin.with_password(email=data.email, phone=data.phone,
                                               password=data.password, door=Door.API)
    except SecondFactorRequired as pending:
        return MfaRequiredOut(mfa_token=pending.token, methods=pending.methods)


@endpoint("/auth/token/refresh/", summary="Rotate a refresh token", body=RefreshIn,
          responses={200: ("A new pair; the old refresh token is spent", TokenPairOut),
                     400: INVALID, 401: UNAUTHORIZED})
def token_refresh(data: RefreshIn) -> Response:
    """Spend a refresh token for a new pair. A spent token presented again revokes its family
    (its refresh token at once, its access tokens at their next check)."""
    try:
        pair = services().tokens.refresh(data.refresh)
    except InvalidToken as exc:
        raise unauthorized(exc) from exc
    return reply(TokenPairOut.of(pair))


@endpoint("/auth/token/verify/", summary="Check a token", body=TokenIn,
          responses={200: ("Valid and not revoked", EmptyOut), 400: INVALID,
                     401: UNAUTHORIZED})
def token_verify(data: TokenIn) -> Response:
    """200 ``{}`` for a valid, unrevoked access or refresh token."""
    try:
        services().tokens.verify(data.token)
    except InvalidToken as exc:
        raise unauthorized(exc) from exc
    return reply(EmptyOut())


@endpoint("/auth/logout/", summary="Log out", body=RefreshIn,
          responses={204: ("The refresh token's family is revoked", None), 400: INVALID,
                     401: UNAUTHORIZED})
def logout(data: RefreshIn) -> Response:
    """Revoke the refresh token's family: this login, on every tab."""
    try:
        services().tokens.logout(data.refresh)
    except InvalidToken as exc:
        raise unauthorized(exc) from exc
    return reply(None, 204)


@endpoint("/auth/me/", method="GET", summary="The current user", auth=True,
          responses={200: ("The user", UserOut), 401: UNAUTHORIZED})
def me() -> Response:
    """The user of the bearer access token."""
    return reply(UserOut.of(bearer_user()))


@endpoint("/auth/email-verify/", summary="Verify an email address", body=EmailVerifyIn,
          responses={200: (VERIFIED_DOC, VerifiedOut), 400: INVALID,
                     401: ("A bearer token was sent but is not valid", ErrorOut),
                     403: SIGN_IN_REQUIRED},
          auth="optional")
def email_verify(data: EmailVerifyIn) -> Response:
    """With the ``token`` of the emailed link, or ``email`` + the 6-digit ``code``
    (six digits sent as ``token``: ``400`` ``code_needs_address``).

    An account's first proven address needs no sign-in. An address added beside a proven
    one is proven only with the account owner's ``Authorization: Bearer`` access token."""
    actor_id = _actor_id()
    verification = services().verification
    if data.token:
        user = verification.verify_email_token(data.token, actor_id=actor_id)
    elif data.email and data.code:
        user = verification.verify_email_code(data.email, data.code, actor_id=actor_id)
    else:
        raise ValidationFailed({"token": ["Give the token from the link, or email and code."]})
    return _verified(user)


@endpoint("/auth/email-verify/resend/", summary="Resend the verification email", body=EmailIn,
          responses={202: ("The same answer for every address", DetailOut), 400: INVALID})
def email_verify_resend(data: EmailIn) -> Response:
    """Sends a new link and code to an unverified address; the old code dies."""
    services().verification.resend_email(data.email)
    return reply(DetailOut(detail=SENT), 202)


@endpoint("/auth/phone-verify/", summary="Verify a phone number", body=PhoneVerifyIn,
          responses={200: (VERIFIED_DOC, VerifiedOut), 400: INVALID,
                     401: ("A bearer token was sent but is not valid", ErrorOut),
                     403: SIGN_IN_REQUIRED},
          auth="optional")
def phone_verify(data: PhoneVerifyIn) -> Response:
    """With the 6-digit code sent by SMS (valid 10 minutes, 5 tries).

    As for an email: a number added beside a proven address needs the owner's bearer token."""
    return _verified(services().verification.verify_phone_code(data.phone, data.code,
                                                                actor_id=_actor_id()))


def _actor_id() -> int | None:
    """The signed-in user (an optional bearer token; a bad one is a 401), or None."""
    user = optional_bearer_user()
    return user.id if user is not None else None


def _verified(user: User | None) -> Response:
    """The user after a verification. The repeat of a used code (no user) gets only the
    detail: the code may be an old or a guessed one, so the answer shows no account."""
    if user is None:
        return reply(DetailOut(detail=ALREADY_VERIFIED))
    return reply(VerifiedOut(detail=VERIFIED, user=UserOut.of(user)))


@endpoint("/auth/phone-verify/resend/", summary="Resend the verification SMS", body=PhoneIn,
          responses={202: ("The same answer for every number", DetailOut), 400: INVALID})
def phone_verify_resend(data: PhoneIn) -> Response:
    """Sends a new code to an unverified number; the old code dies."""
    services().verification.resend_phone(data.phone)
    return reply(DetailOut(detail=SENT), 202)


@endpoint("/auth/password-reset/", summary="Request a password reset", body=IdentifierIn,
          responses={202: ("The same answer for every address", DetailOut), 400: INVALID})
def password_reset(data: IdentifierIn) -> Response:
    """Email: a link and a code (1 hour). Phone: an SMS code (10 minutes)."""
    services().resets.request(email=data.email, phone=data.phone)
    return reply(DetailOut(detail=SENT), 202)


@endpoint("/auth/password-reset/verify/", summary="Check a reset token or code",
          body=ResetVerifyIn, responses={200: ("Valid", ValidOut), 400: INVALID})
def password_reset_verify(data: ResetVerifyIn) -> Response:
    """Whether the link token, or email/phone + code, would reset the password now
    (a code sent as ``token``: ``400`` ``code_needs_address``)."""
    services().resets.check(token=data.token, email=data.email, phone=data.phone,
                            code=data.code)
    return reply(ValidOut(valid=True))


@endpoint("/auth/password-reset/confirm/", summary="Set a new password", body=ResetConfirmIn,
          responses={200: ("Password changed; every session is revoked", DetailOut),
                     400: INVALID})
def password_reset_confirm(data: ResetConfirmIn) -> Response:
    """Spends the token or code, sets the password, revokes every refresh token."""
    services().resets.confirm(
        token=data.token, email=data.email, phone=data.phone, code=data.code,
        new_password=data.new_password, confirm_password=data.confirm_password)
    return reply(DetailOut(detail="Your password has been changed. Log in with it now."))
