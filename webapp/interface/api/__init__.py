"""The JSON API blueprint at /api (views are registered by importing their modules)."""

from webapp.interface.api import (  # noqa: F401  (registers the routes)
    account,
    auth,
    billing,
    invitations,
    mfa,
    openapi,
    passkeys,
    sessions,
)
from webapp.interface.api.base import bp

__all__ = ["bp"]
