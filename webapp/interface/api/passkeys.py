"""Passkey endpoints at /api/auth/: enrolling, the list, removing, the passwordless
sign-in, and the options for a passkey as a second factor or to re-authenticate (the
answers go to ``login/mfa/`` and ``reauthenticate/`` as ``credential``)."""

from __future__ import annotations

from flask import Response

from webapp.application.signin import Door
from webapp.interface.api.base import bearer_access, bearer_user, endpoint, reply, services
from webapp.interface.api.passkey_schemas import (
    CredentialIn,
    MfaOptionsIn,
    PasskeyCreatedOut,
    PasskeyListOut,
    PasskeyOut,
    PasskeyRegisterIn,
    WebAuthnOptionsOut,
)
from webapp.interface.api.schemas import ErrorOut, LoginOut

REFUSED = ("Malformed, for another user, origin or RP id, a spent or expired challenge, a "
           "bad signature or a counter gone backwards: `invalid_credential`", ErrorOut)
NOT_RECENT = ("Sign in again first (`reauthentication_required`): POST reauthenticate/",
              ErrorOut)
OPTIONS = ("WebAuthn options (JSON)", WebAuthnOptionsOut)


@endpoint("/auth/passkeys/register/options/", summary="Start enrolling a passkey", auth=True,
          tag="passkeys", responses={200: OPTIONS, 403: NOT_RECENT,
                                     409: ("Already 10 passkeys", ErrorOut)})
def passkey_register_options() -> Response:
    """*Fresh.* Creation options for ``navigator.credentials.create`` (a discoverable
    credential with user verification preferred); the account's passkeys are excluded."""
    access = bearer_access()
    options = services().passkeys.registration_options(access.user.id or 0, access.auth_time)
    return reply(WebAuthnOptionsOut(options))


@endpoint("/auth/passkeys/register/", summary="Enrol a passkey", body=PasskeyRegisterIn,
          auth=True, tag="passkeys",
          responses={201: ("Enrolled; the user is told by email", PasskeyCreatedOut),
                     400: REFUSED})
def passkey_register(data: PasskeyRegisterIn) -> Response:
    """The browser's answer to ``passkeys/register/options/``. The passkey is a second
    factor from now on (trusted browsers must sign in with a factor again)."""
    passkey = services().passkeys.register(bearer_user().id or 0, data.credential, data.name)
    return reply(PasskeyCreatedOut.of(passkey), 201)


@endpoint("/auth/passkeys/", method="GET", summary="The account's passkeys", auth=True,
          tag="passkeys", responses={200: ("Oldest first", PasskeyListOut)})
def passkey_list() -> Response:
    """Name, when added, when last used, whether synced."""
    passkeys = services().passkeys.passkeys(bearer_user().id or 0)
    return reply(PasskeyListOut([PasskeyOut.of(p) for p in passkeys]))


@endpoint("/auth/passkeys/<int:passkey_id>/", method="DELETE", summary="Remove a passkey",
          auth=True, tag="passkeys",
          responses={204: ("Removed; recovery codes die with the last factor", None),
                     403: NOT_RECENT, 404: ("No such passkey of this account", ErrorOut)})
def passkey_delete(passkey_id: int) -> Response:
    """*Fresh.* The user is told by email."""
    access = bearer_access()
    services().passkeys.remove(access.user.id or 0, passkey_id, access.auth_time)
    return reply(None, 204)


@endpoint("/auth/passkeys/login/options/", summary="Start a sign-in with a passkey",
          tag="passkeys", responses={200: OPTIONS})
def passkey_login_options() -> Response:
    """Request options for any discoverable passkey of this site, user verification
    required. No account is named: the browser offers the passkeys it holds."""
    return reply(WebAuthnOptionsOut(services().passkeys.login_options()))


@endpoint("/auth/passkeys/login/", summary="Sign in with a passkey", body=CredentialIn,
          tag="passkeys", responses={200: ("Tokens and the user, as from login/", LoginOut),
                                     400: REFUSED,
                                     401: ("The account is deactivated", ErrorOut),
                                     403: ("No verified address", ErrorOut)})
def passkey_login(data: CredentialIn) -> Response:
    """A passkey whose authenticator verified its user (PIN, biometrics) is both factors:
    no password and no second step."""
    return reply(LoginOut.of(services().passkeys.sign_in(data.credential, Door.API)))


@endpoint("/auth/login/mfa/options/", summary="Sign in: a passkey as the second factor",
          body=MfaOptionsIn, tag="passkeys",
          responses={200: OPTIONS, 400: ("A wrong, spent or expired mfa_token", ErrorOut)})
def login_mfa_options(data: MfaOptionsIn) -> Response:
    """Request options for the account's passkeys; send the answer to ``login/mfa/`` as
    ``credential`` with the same ``mfa_token``."""
    options = services().second_factor.passkey_options(data.mfa_token, Door.API)
    return reply(WebAuthnOptionsOut(options))


@endpoint("/auth/reauthenticate/options/", summary="Sign in again with a passkey", auth=True,
          tag="passkeys", responses={200: OPTIONS})
def reauthenticate_options() -> Response:
    """Request options for the account's passkeys; send the answer to
    ``reauthenticate/`` as ``credential``."""
    options = services().second_factor.reauthentication_options(bearer_user().id or 0)
    return reply(WebAuthnOptionsOut(options))

