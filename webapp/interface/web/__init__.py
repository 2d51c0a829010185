"""The browser pages (HTML blueprint). Views call the same services as the JSON API."""

from flask import Blueprint

bp = Blueprint("web", __name__)

from webapp.interface.web import session  # noqa: E402,F401  (registers the user loader)
from webapp.interface.web import billing  # noqa: E402,F401  (registers the billing routes)

__all__ = ["bp"]
