"""Staff views: the dashboard, the user list and search, a user's page and its actions."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from webapp.application.interfaces.staff import PAGE_SIZE, UserFilter
from webapp.application.staff import search_terms
from webapp.domain.billing import ENDED, LIVE
from webapp.domain.errors import DomainError, ValidationFailed
from webapp.interface.admin import acting_id, bp, services
from webapp.interface.admin.chart import funnel_chart
from webapp.interface.admin.forms import ConfirmForm, ReasonForm
from webapp.interface.admin.pages import ID, number, skipped_kinds

# action -> (button label, what it does, whether it is destructive)
ACTIONS = {
    "mark_verified": ("Mark verified", "Marks the account's address as verified, as if the "
                      "user had followed the link, and queues their Stripe customer.", False),
    "resend_verification": ("Resend verification", "Sends a new verification link and code; "
                            "earlier codes stop working.", False),
    "send_reset": ("Send password reset", "Sends a password reset link (or SMS code) to the "
                   "account's address.", False),
    "deactivate": ("Deactivate", "The user can no longer log in; every session, access token "
                   "and refresh token stops working at once.", True),
    "reactivate": ("Reactivate", "The user can log in again.", False),
    "revoke_sessions": ("Log out everywhere", "Ends every browser session and revokes every "
                        "refresh token of this account.", True),
    "retry_stripe": ("Retry Stripe customer", "Queues the creation of the Stripe customer "
                     "again (it is never created twice).", False),
    "promote": ("Make staff", "Gives this account access to these staff pages.", True),
    "demote": ("Remove staff", "Takes away access to these staff pages.", True),
    "mfa_off": ("Turn off second factors", "Removes the account's authenticator app and "
                "recovery codes, so that signing in asks only for the password. Do this only "
                "for someone whose identity you have checked, who lost their phone and codes. "
                "The user is told by email (or SMS).", True),
}
TRI = {"yes": True, "no": False}
SUBSCRIPTION = {"": "any", "live": "subscribed (any live status)", "none": "not subscribed",
                **{status: status.replace("_", " ") for status in sorted(LIVE | ENDED)}}
FILTERS = ("q", "verified", "active", "staff", "customer", "subscription", "sort")
MAX_PAGE = 20_000  # 1,000,000 accounts at 50 a page; beyond that, search


@bp.get("/")
def dashboard() -> str:
    """Counts and the last 30 days' funnel: signups, verified, Stripe customers, subscribed."""
    now = services().clock.now()
    since = (now - timedelta(days=29)).replace(hour=0, minute=0, second=0, microsecond=0)
    queries = services().admin.queries
    billing_on = services().billing.enabled
    return render_template("admin/dashboard.html", counts=queries.counts(since, skipped_kinds()),
                           chart=funnel_chart(queries.funnel(since), now.date(),
                                              billing=billing_on),
                           billing_on=billing_on)



def _filter_from_request() -> UserFilter:
    args = request.args
    page = number(args.get("page", "1")) or 1
    return UserFilter(
        terms=search_terms(args.get("q", "")[:254], services().policy.default_region),
        verified=TRI.get(args.get("verified", "")), active=TRI.get(args.get("active", "")),
        staff=TRI.get(args.get("staff", "")), customer=TRI.get(args.get("customer", "")),
        subscription=wanted if (wanted := args.get("subscription")) in SUBSCRIPTION else None,
        sort=args.get("sort", "newest"), page=min(page, MAX_PAGE),
        limit=PAGE_SIZE,
    )


@bp.get("/users")
def users() -> str:
    """Search (``q``: email, phone or name prefix), filter, sort and page through accounts."""
    queries = services().admin.queries
    page = queries.users(_filter_from_request())
    # Only the filters: any other key would reach url_for as its own argument
    # (endpoint, _method, _external ...) when the page links are built.
    args = {k: v for k in FILTERS if (v := request.args.get(k))}
    return render_template("admin/users.html", page=page, args=args,
                           subscriptions=queries.subscription_statuses(
                               {u.id for u in page.users if u.id}),
                           subscription_choices=list(SUBSCRIPTION.items()))


@bp.get(f"/users/<{ID}:user_id>")
def user(user_id: int) -> str:
    """Everything about one account: identity, verification, logins, tokens, messages, trail."""
    try:
        detail = services().admin.user_detail(user_id)
    except DomainError:
        abort(404)
    actors = services().admin.queries.users_by_id(
        {e.actor_id for e in detail.events if e.actor_id})
    billing_on = services().billing.enabled
    return render_template("admin/user.html", d=detail, u=detail.user, actors=actors,
                           billing_on=billing_on,
                           mfa=services().mfa.status(user_id),
                           actions=[(a, ACTIONS[a][0], ACTIONS[a][2])
                                    for a in available_actions(detail.user, billing_on)],
                           sessions=services().sessions.entries(detail.user),
                           end_form=ConfirmForm(formdata=None))


@bp.post(f"/users/<{ID}:user_id>/sessions/<session_id>/end")
def user_session_end(user_id: int, session_id: str) -> Response:
    """End one browser session or API login of the account (audited, with the staff member)."""
    if ConfirmForm().validate_on_submit():
        try:
            services().sessions.end_by_staff(acting_id(), user_id, session_id)
            flash("That session has ended.", "success")
        except DomainError as exc:
            flash(exc.detail, "error")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.get(f"/users/<{ID}:user_id>/activity")
def user_activity(user_id: int) -> str:
    """The account's security activity, as its user sees it at /account/activity."""
    try:
        detail = services().admin.user_detail(user_id)
    except DomainError:
        abort(404)
    page = number(request.args.get("page", "1")) or 1
    return render_template("admin/activity.html", u=detail.user,
                           activity=services().activity.page(user_id, page))


def available_actions(u, billing_on: bool = True) -> list[str]:  # noqa: ANN001
    wanted = []
    leaving = u.deletion_due_at is not None  # erased when due: nothing to build on it
    if not leaving and (not u.is_verified or (u.email and not u.email_verified_at)):
        wanted += ["mark_verified", "resend_verification"]
    if u.is_active:
        wanted += ["send_reset", "revoke_sessions", "deactivate"]
    elif not leaving:
        wanted.append("reactivate")
    if not leaving and billing_on and u.is_verified and not u.stripe_customer_id:
        wanted.append("retry_stripe")
    if u.is_staff or not leaving:
        wanted.append("demote" if u.is_staff else "promote")
    if u.has_second_factor:
        wanted.append("mfa_off")
    return wanted


@bp.route(f"/users/<{ID}:user_id>/<action>", methods=["GET", "POST"])
def user_action(user_id: int, action: str) -> Response | str:
    """GET asks for confirmation; POST (with the form's CSRF token) does it."""
    if action not in ACTIONS:
        abort(404)
    form = ReasonForm() if services().admin.needs_reason(action) else ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            reason = (form.reason.data or "") if isinstance(form, ReasonForm) else ""
            flash(services().admin.act(acting_id(), user_id, action, reason=reason), "success")
            return redirect(url_for("admin.user", user_id=user_id))
        except ValidationFailed as exc:  # no reason given: the form again, saying so
            form.reason.errors = exc.errors.get("reason", [exc.detail])  # type: ignore[attr-defined]
        except DomainError as exc:
            flash(exc.detail, "error")
            return redirect(url_for("admin.user", user_id=user_id))
    try:
        detail = services().admin.user_detail(user_id)
    except DomainError:
        abort(404)
    label, explanation, danger = ACTIONS[action]
    return render_template("admin/confirm.html", u=detail.user, form=form, action=action,
                           label=label, explanation=explanation, danger=danger)
