"""The browser pages (HTML blueprint). Views call the same services as the JSON API."""

from flask import Blueprint

bp = Blueprint("web", __name__)

# Importing the view modules registers their routes (and the user loader).
from webapp.interface.web import billing, session  # noqa: E402,F401

__all__ = ["bp"]
