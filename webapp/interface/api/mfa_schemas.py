"""Bodies of the second-factor endpoints (pydantic; also the OpenAPI schemas)."""

from __future__ import annotations

from typing import Any, Literal

from webapp.domain.mfa import MfaStatus, TotpSetup
from webapp.interface.api.model import Field, RootModel
from webapp.interface.api.schemas import In, LoginOut, Out, TokenPairOut

CODE = Field(None, description="The 6-digit code from the authenticator app.",
             examples=["123456"])
RECOVERY = Field(None, description="One of the recovery codes shown at set-up.",
                 examples=["abcde-23456"])
PASSKEY = Field(None, description="A passkey's answer (PublicKeyCredential as JSON) to the "
                "options of login/mfa/options/ (or reauthenticate/options/).")


class MfaRequiredOut(Out):
    mfa_required: Literal[True] = True
    mfa_token: str = Field(description="Names this sign-in for POST /api/auth/login/mfa/ "
                           "(5 minutes, one use, 5 wrong codes).")
    methods: list[str] = Field(description='The factors this account can prove: "totp", '
                               '"recovery_code", "passkey".')


class LoginAnswerOut(RootModel[LoginOut | MfaRequiredOut]):
    """Tokens and the user; or, with a second factor on, what to send to login/mfa/."""


class TokenAnswerOut(RootModel[TokenPairOut | MfaRequiredOut]):
    """The pair; or, with a second factor on, what to send to login/mfa/."""


class MfaLoginIn(In):
    mfa_token: str
    code: str | None = CODE
    recovery_code: str | None = RECOVERY
    credential: dict[str, Any] | None = PASSKEY


class CodeIn(In):
    code: str = Field(description="The 6-digit code from the authenticator app.",
                      examples=["123456"])


class ReauthenticateIn(In):
    password: str | None = None
    code: str | None = CODE
    credential: dict[str, Any] | None = PASSKEY


class MfaStatusOut(Out):
    totp: bool
    passkeys: int
    recovery_codes_left: int

    @classmethod
    def of(cls, status: MfaStatus) -> MfaStatusOut:
        return cls(totp=status.totp, passkeys=status.passkeys,
                   recovery_codes_left=status.recovery_codes_left)


class TotpSetupOut(Out):
    secret: str = Field(description="Base32, for typing into an app by hand.")
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as a QR code, an inline SVG element.")

    @classmethod
    def of(cls, setup: TotpSetup) -> TotpSetupOut:
        return cls(secret=setup.secret, otpauth_uri=setup.otpauth_uri, qr_svg=setup.qr_svg)


class RecoveryCodesOut(Out):
    recovery_codes: list[str] = Field(description="Shown this once; each works once.")
