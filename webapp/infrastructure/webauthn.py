"""The WebAuthn relying party, by Duo Labs' py_webauthn: options as JSON, and the
verification of registrations (attestations) and sign-ins (assertions): CBOR, COSE keys,
signatures, origin, RP id and flags are all the library's. The library is imported on
first use: an app server that never sees a passkey never loads it.

Everything a browser sends is untrusted: whatever the library raises on it (its own
exceptions, or a decoding error deep inside) becomes one ValueError, which the use case
turns into a 400 and an audit line.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from webapp.application.interfaces import CredentialInfo, NewCredential, VerifiedAssertion

TIMEOUT_MS = 300_000  # the browser's prompt may stay open as long as the challenge lives
# WebAuthn Level 3, registration step 24: an RP refuses a longer credential id (py_webauthn
# does not check; the column holds this many bytes in base64url).
MAX_CREDENTIAL_ID_BYTES = 1023


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(base_url: str) -> str:
    """The origin a browser writes into a credential for pages of ``base_url``: as HTML
    serializes it (host in lower case, no default port, no path), or no passkey would
    ever match an APP_BASE_URL such as ``https://Accounts.Example.com:443/``."""
    parts = urlsplit(base_url)
    scheme, host, port = parts.scheme.lower(), parts.hostname or "", parts.port
    host = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    return f"{scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS.get(scheme)
                                   else "")


class PyWebAuthn:
    def __init__(self, rp_id: str, rp_name: str, origin: str) -> None:
        self.rp_id, self.rp_name, self.origin = rp_id, rp_name, origin

    def registration_options(self, *, challenge: bytes, user_handle: bytes, user_name: str,
                             display_name: str, exclude: list[str]) -> dict[str, Any]:
        import webauthn
        from webauthn.helpers.structs import (
            AuthenticatorSelectionCriteria,
            PublicKeyCredentialDescriptor,
            ResidentKeyRequirement,
            UserVerificationRequirement,
        )

        options = webauthn.generate_registration_options(
            rp_id=self.rp_id, rp_name=self.rp_name, user_id=user_handle, user_name=user_name,
            user_display_name=display_name, challenge=challenge, timeout=TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=_bytes(c)) for c in exclude])
        return dict(json.loads(webauthn.options_to_json(options)))

    def authentication_options(self, *, challenge: bytes,
                               allow: list[tuple[str, list[str]]] | None) -> dict[str, Any]:
        import webauthn
        from webauthn.helpers.structs import (
            AuthenticatorTransport,
            PublicKeyCredentialDescriptor,
            UserVerificationRequirement,
        )

        known = {t.value for t in AuthenticatorTransport}
        descriptors = [PublicKeyCredentialDescriptor(
            id=_bytes(cid), transports=[AuthenticatorTransport(t) for t in ts if t in known])
            for cid, ts in allow or []]
        options = webauthn.generate_authentication_options(
            rp_id=self.rp_id, challenge=challenge, timeout=TIMEOUT_MS,
            allow_credentials=descriptors,
            # A sign-in without a password needs the user verified; else it is a bonus.
            user_verification=(UserVerificationRequirement.REQUIRED if allow is None
                               else UserVerificationRequirement.PREFERRED))
        return dict(json.loads(webauthn.options_to_json(options)))

    def read(self, credential: object) -> CredentialInfo:
        from webauthn.helpers import (
            bytes_to_base64url,
            parse_authentication_credential_json,
            parse_client_data_json,
            parse_registration_credential_json,
        )

        try:
            if not isinstance(credential, dict):
                raise ValueError("the credential is not a JSON object")
            response = credential.get("response")
            if isinstance(response, dict) and "attestationObject" in response:
                parsed: Any = parse_registration_credential_json(credential)
                handle = None
            else:
                parsed = parse_authentication_credential_json(credential)
                handle = parsed.response.user_handle
            client_data = parse_client_data_json(parsed.response.client_data_json)
            return CredentialInfo(credential_id=bytes_to_base64url(parsed.raw_id),
                                  challenge=client_data.challenge, user_handle=handle)
        except Exception as exc:  # untrusted input: every failure is a refusal
            raise ValueError(f"malformed credential: {exc}") from exc

    def verify_registration(self, credential: object, challenge: bytes) -> NewCredential:
        import webauthn
        from webauthn.helpers import bytes_to_base64url
        from webauthn.helpers.structs import CredentialDeviceType

        try:
            verified = webauthn.verify_registration_response(
                credential=credential,  # type: ignore[arg-type]
                expected_challenge=challenge, expected_rp_id=self.rp_id,
                expected_origin=self.origin)
            transports = (credential.get("response", {}).get("transports")  # type: ignore[union-attr]
                          or [])
        except Exception as exc:
            raise ValueError(str(exc)) from exc
        if len(verified.credential_id) > MAX_CREDENTIAL_ID_BYTES:
            raise ValueError(f"credential id longer than {MAX_CREDENTIAL_ID_BYTES} bytes")
        return NewCredential(
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            transports=[str(t) for t in transports if isinstance(t, str)][:8],
            backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
            backed_up=verified.credential_backed_up, user_verified=verified.user_verified)

    def verify_authentication(self, credential: object, challenge: bytes, public_key: str,
                              require_user_verification: bool) -> VerifiedAssertion:
        import webauthn
        from webauthn.helpers.structs import CredentialDeviceType

        try:
            verified = webauthn.verify_authentication_response(
                credential=credential,  # type: ignore[arg-type]
                expected_challenge=challenge, expected_rp_id=self.rp_id,
                expected_origin=self.origin, credential_public_key=_bytes(public_key),
                # 0: the counter is compared by the domain (Passkey.counter_moves_on), so
                # that a regression is told apart from a bad signature and audited as such.
                credential_current_sign_count=0,
                require_user_verification=require_user_verification)
        except Exception as exc:
            raise ValueError(str(exc)) from exc
        return VerifiedAssertion(sign_count=verified.new_sign_count,
                                 backup_eligible=(verified.credential_device_type
                                                  == CredentialDeviceType.MULTI_DEVICE),
                                 backed_up=verified.credential_backed_up,
                                 user_verified=verified.user_verified)


def _bytes(b64: str) -> bytes:
    from webauthn.helpers import base64url_to_bytes

    return base64url_to_bytes(b64)
