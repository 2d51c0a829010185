"""Bodies of the passkey endpoints (pydantic; also the OpenAPI schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from webapp.domain.passkeys import NAME_MAX_LENGTH, Passkey
from webapp.interface.api.model import Field, RootModel
from webapp.interface.api.schemas import In, Out

CREDENTIAL = Field(description="The PublicKeyCredential from the browser, as JSON "
                   "(``credential.toJSON()``: id, rawId, type, response with base64url "
                   "fields).")


class WebAuthnOptionsOut(RootModel[dict[str, Any]]):
    """WebAuthn options as JSON: give them to ``PublicKeyCredential.parseCreationOptions
    FromJSON`` (or ``parseRequestOptionsFromJSON``), then to ``navigator.credentials``. The
    challenge lives 5 minutes and is used once."""


class PasskeyRegisterIn(In):
    credential: dict[str, Any] = CREDENTIAL
    name: str | None = Field(None, max_length=200, description=f"Shown in the list; cut to "
                             f"{NAME_MAX_LENGTH} characters. Default: Passkey N.",
                             examples=["Laptop"])


class CredentialIn(In):
    credential: dict[str, Any] = CREDENTIAL


class MfaOptionsIn(In):
    mfa_token: str


class PasskeyCreatedOut(Out):
    id: int
    name: str
    created_at: datetime

    @classmethod
    def of(cls, passkey: Passkey) -> PasskeyCreatedOut:
        return cls(id=passkey.id or 0, name=passkey.name, created_at=passkey.created_at)


class PasskeyOut(Out):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    backed_up: bool = Field(description="The authenticator says the key is synced "
                            "(e.g. to a cloud keychain).")

    @classmethod
    def of(cls, passkey: Passkey) -> PasskeyOut:
        return cls(id=passkey.id or 0, name=passkey.name, created_at=passkey.created_at,
                   last_used_at=passkey.last_used_at, backed_up=passkey.backed_up)


class PasskeyListOut(RootModel[list[PasskeyOut]]):
    """The account's passkeys, oldest first."""
