"""Second factor endpoints at /api/auth/: the authenticator app, recovery codes, the
second step of a sign-in, and re-authentication. Endpoints marked *fresh* need a sign-in
(``auth_time``) within REAUTH_MAX_AGE: else 403 ``reauthentication_required``."""

from __future__ import annotations

from flask import Response

from webapp.application.signin import Door
from webapp.domain.errors import ValidationFailed
from webapp.interface.api.base import bearer_access, bearer_user, endpoint, reply, services
from webapp.interface.api.mfa_schemas import (
    CodeIn,
    LoginAnswerOut,
    MfaLoginIn,
    MfaStatusOut,
    ReauthenticateIn,
    RecoveryCodesOut,
    TotpSetupOut,
)
from webapp.interface.api.schemas import ErrorOut, LoginOut, TokenPairOut

INVALID_CODE = ("A wrong, malformed, reused or expired code: `invalid_code`", ErrorOut)
NOT_RECENT = ("Sign in again first (`reauthentication_required`): POST reauthenticate/",
              ErrorOut)


@endpoint("/auth/mfa/", method="GET", summary="Second factors of the account", auth=True,
          tag="mfa", responses={200: ("What is on", MfaStatusOut)})
def mfa_status() -> Response:
    """Whether an authenticator app is on, how many passkeys, how many recovery codes left."""
    return reply(MfaStatusOut.of(services().mfa.status(bearer_user().id or 0)))


@endpoint("/auth/mfa/totp/setup/", summary="Start setting up an authenticator app", auth=True,
          tag="mfa", responses={200: ("The secret, as text, URI and QR code", TotpSetupOut),
                                403: NOT_RECENT,
                                409: ("An authenticator app is already on", ErrorOut)})
def mfa_totp_setup() -> Response:
    """*Fresh.* A new secret; nothing is on until ``mfa/totp/confirm/`` gets a right code."""
    access = bearer_access()
    return reply(TotpSetupOut.of(services().mfa.start_totp(access.user.id or 0,
                                                           access.auth_time)))


@endpoint("/auth/mfa/totp/confirm/", summary="Turn the authenticator app on", body=CodeIn,
          auth=True, tag="mfa",
          responses={200: ("On; the recovery codes, shown this once", RecoveryCodesOut),
                     400: INVALID_CODE})
def mfa_totp_confirm(data: CodeIn) -> Response:
    """A right code from the app turns it on and answers 10 recovery codes (shown once;
    any the account had, beside a passkey, no longer work). The user is told by email."""
    codes = services().mfa.confirm_totp(bearer_user().id or 0, data.code)
    return reply(RecoveryCodesOut(recovery_codes=codes))


@endpoint("/auth/mfa/totp/", method="DELETE", summary="Remove the authenticator app",
          auth=True, tag="mfa", responses={204: ("Removed; the recovery codes too", None),
                                          403: NOT_RECENT,
                                          409: ("No authenticator app is on", ErrorOut)})
def mfa_totp_delete() -> Response:
    """*Fresh.* Recovery codes die with the last factor; the user is told by email."""
    access = bearer_access()
    services().mfa.disable_totp(access.user.id or 0, access.auth_time)
    return reply(None, 204)


@endpoint("/auth/mfa/recovery-codes/", summary="New recovery codes", auth=True, tag="mfa",
          responses={200: ("The new codes, shown this once; the old ones die",
                           RecoveryCodesOut), 403: NOT_RECENT,
                     409: ("No second factor is on", ErrorOut)})
def mfa_recovery_codes() -> Response:
    """*Fresh.* Ten new recovery codes replace the old set; the user is told by email."""
    access = bearer_access()
    codes = services().mfa.regenerate_recovery_codes(access.user.id or 0, access.auth_time)
    return reply(RecoveryCodesOut(recovery_codes=codes))


@endpoint("/auth/login/mfa/", summary="Sign in: the second factor", body=MfaLoginIn,
          tag="mfa", responses={200: ("Tokens and the user, as from login/", LoginAnswerOut),
                                400: INVALID_CODE})
def login_mfa(data: MfaLoginIn) -> Response:
    """The ``mfa_token`` from ``login/`` (or ``token/``) with a ``code`` from the
    authenticator app, a ``recovery_code``, or a passkey's ``credential`` (options from
    ``login/mfa/options/``). Wrong codes count toward the account's
    lockout; the token dies after 5 of them, after 5 minutes and once used."""
    if not (data.code or data.recovery_code or data.credential is not None):
        raise ValidationFailed({"code": ["Give the code from your app, a recovery code, "
                                         "or a passkey's credential."]})
    signed_in = services().second_factor.complete(
        data.mfa_token, code=data.code, recovery_code=data.recovery_code,
        credential=data.credential, door=Door.API)
    return reply(LoginOut.of(signed_in))


@endpoint("/auth/reauthenticate/", summary="Sign in again for a sensitive change",
          body=ReauthenticateIn, auth=True, tag="mfa",
          responses={200: ("A new pair whose access token is recent", TokenPairOut),
                     400: ("Wrong password or code", ErrorOut)})
def reauthenticate(data: ReauthenticateIn) -> Response:
    """With the ``password``, a ``code`` from the authenticator app, or a passkey's
    ``credential`` (options from ``reauthenticate/options/``): a new pair with a
    fresh ``auth_time`` (the refresh token held so far is spent). Wrong answers count
    toward the login lockout."""
    if not (data.password or data.code or data.credential is not None):
        raise ValidationFailed({"password": ["Give your password, a code from your app, "
                                             "or a passkey's credential."]})
    access = bearer_access()
    at = services().second_factor.reauthenticate(access.user.id or 0, password=data.password,
                                                 code=data.code, credential=data.credential)
    pair = services().tokens.renew(access.user, access.family_id, int(at.timestamp()))
    return reply(TokenPairOut.of(pair))
