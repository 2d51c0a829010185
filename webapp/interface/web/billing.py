"""Browser billing: the account page's subscribe and "Manage billing" buttons go to Stripe.

The panel itself is ``templates/billing/_panel.html``, rendered by the account page
with ``billing=services.billing.summary(user_id)``.
"""

from __future__ import annotations

from flask import flash, redirect, request
from flask.blueprints import BlueprintSetupState
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from webapp.application.billing import BillingSummary
from webapp.domain.errors import DomainError
from webapp.domain.model import User
from webapp.interface import services
from webapp.interface.web import bp

ACCOUNT = "/account"
# The account page renders templates/billing/_panel.html with what this callable returns.
ACCOUNT_CONTEXT = "billing.account_context"


def account_context(user: User) -> BillingSummary:
    """The billing panel's ``billing`` object for the account page."""
    return services().billing.summary(user.id or 0)


@bp.record_once
def _offer_account_context(state: BlueprintSetupState) -> None:
    state.app.extensions[ACCOUNT_CONTEXT] = account_context


@bp.post("/billing/checkout")
@login_required
def billing_checkout() -> Response:
    """Subscribe to the chosen plan: off to Stripe Checkout (or back, with the reason)."""
    try:
        url = services().billing.checkout(current_user.user.id, request.form.get("plan", ""))
    except DomainError as exc:
        flash(_message(exc), "error")
        return redirect(ACCOUNT, 303)
    return redirect(url, 303)


@bp.post("/billing/portal")
@login_required
def billing_portal() -> Response:
    """Manage billing: off to the Stripe billing portal."""
    try:
        url = services().billing.portal(current_user.user.id)
    except DomainError as exc:
        flash(_message(exc), "error")
        return redirect(ACCOUNT, 303)
    return redirect(url, 303)


def _message(exc: DomainError) -> str:
    errors = getattr(exc, "errors", None) or {}
    return next((m for messages in errors.values() for m in messages), exc.detail)
