"""The doors: JSON API, browser pages, staff pages and the command line. Thin, no rules."""

from __future__ import annotations

from flask import current_app

from webapp.application.services import Services


def services() -> Services:
    """The use-case services bundle that create_app built for this application."""
    return current_app.extensions["services"]
