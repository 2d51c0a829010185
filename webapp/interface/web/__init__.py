"""The browser pages (HTML blueprint). Views call the same services as the JSON API."""

from flask import Blueprint

bp = Blueprint("web", __name__)

# Importing the modules registers the user loader and the views on ``bp``.
from webapp.interface.web import (  # noqa: E402,F401
    account,
    account_data,
    billing,
    invite,
    pages,
    passkeys,
    reset,
    second_factor,
    security,
    session,
    sessions,
    verify,
)

__all__ = ["bp"]
