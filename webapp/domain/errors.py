"""Domain exceptions.

Each carries a stable machine-readable ``code``; the interfaces map the class to
an HTTP status (API) or a form error (web) in one place each.
"""

from __future__ import annotations

import math


class DomainError(Exception):
    """Base class: a use case refused, with a message safe to show the user."""

    code = "error"
    default_detail = "The request could not be completed."

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        self.detail = detail or self.default_detail
        if code:
            self.code = code
        super().__init__(self.detail)


class ValidationFailed(DomainError):
    """Input broke a rule; ``errors`` maps each field to its messages."""

    code = "invalid"
    default_detail = "Some fields are not valid."

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None) -> None:
        self.errors = errors
        super().__init__(detail)

    @classmethod
    def single(cls, field: str, message: str) -> ValidationFailed:
        return cls({field: [message]})


class InvalidCredentials(DomainError):
    """Unknown account, wrong password or deactivated account: one answer for all."""

    code = "invalid_credentials"
    default_detail = "The credentials are not valid."


class Unverified(DomainError):
    """The password was right but no address of the account is verified yet."""

    code = "unverified"
    default_detail = "Verify your email address or phone number before logging in."


class InvalidToken(DomainError):
    """A signed link, a JWT or a one-time code is invalid, expired or spent."""

    code = "invalid_token"
    default_detail = "The token is invalid or has expired."


class AuthenticationRequired(DomainError):
    """No valid access token (or session) came with the request."""

    code = "not_authenticated"
    default_detail = "Authentication credentials were not provided or are not valid."


class PermissionDenied(DomainError):
    code = "permission_denied"
    default_detail = "You do not have permission to do this."


class RegistrationClosed(PermissionDenied):
    code = "registration_closed"
    default_detail = "Registration is by invitation only."


class OwnerSignInRequired(DomainError):
    """A right code or link for an address added beside a proven one, used by someone not
    signed in to that account: proving an address proves nothing about the account."""

    code = "sign_in_required"
    default_detail = "Sign in to the account this address was added to, then use the code again."


class NotFound(DomainError):
    code = "not_found"
    default_detail = "Not found."


class Throttled(DomainError):
    """Too many attempts; ``retry_after`` is in whole seconds."""

    code = "throttled"
    default_detail = "Too many requests. Try again later."

    def __init__(self, retry_after: float, detail: str | None = None) -> None:
        # Rounded up: a client that waits the rounded-down time is refused again.
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(detail)


class ServiceUnavailable(DomainError):
    code = "unavailable"
    default_detail = "This service is not available right now."


class ActionRefused(DomainError):
    """The action makes no sense for this account right now (shown to staff as is)."""

    code = "action_refused"


class ReauthenticationRequired(DomainError):
    """A sensitive change, and the last proof of a factor is older than REAUTH_MAX_AGE."""

    code = "reauthentication_required"
    default_detail = "Confirm it is you: sign in again (password or code) to make this change."


class SecondFactorRequired(DomainError):
    """Not a failure: the password was right and the account has a second factor. The
    sign-in waits, named by ``token``, for one of ``methods`` (``POST login/mfa/``)."""

    code = "mfa_required"
    default_detail = "Enter the code from your authenticator app."

    def __init__(self, token: str, methods: list[str]) -> None:
        self.token = token
        self.methods = methods
        super().__init__()


class Conflict(DomainError):
    """The request contradicts the state the account is in (already on, nothing to renew)."""

    code = "conflict"
