"""Staff views: the audit log, the delivery queue, invitations."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from webapp.application.invitations import holds
from webapp.domain.errors import DomainError
from webapp.domain.invitations import InvitationState
from webapp.domain.model import MessageKind
from webapp.interface.admin import acting_id, bp, services
from webapp.interface.admin.forms import ConfirmForm, InviteForm
from webapp.interface.web.safety import safe_next

PAGE = 100
OPEN = (InvitationState.PENDING, InvitationState.EXPIRED, InvitationState.VOID)
QUEUE_STATUSES = {"": ("pending", "failed"), "pending": ("pending",), "failed": ("failed",),
                  "sent": ("sent",)}


MAX_ID = 2**31 - 1  # the id columns are INTEGER: 4 bytes on PostgreSQL
ID = f"int(max={MAX_ID})"  # the route converter of an id: beyond the column, a 404


def number(value: str) -> int | None:
    """A row id from the query string; anything else (or beyond an id column) is no id.

    ASCII digits only: ``"²".isdigit()`` is true, but ``int("²")`` fails.
    """
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(MAX_ID)):
        return None
    return int(value) if int(value) <= MAX_ID else None


def skipped_kinds() -> tuple[str, ...]:
    """Stripe jobs left from before billing was turned off are neither counted nor listed."""
    return () if services().billing.enabled else (MessageKind.STRIPE_CUSTOMER.value,)


def _int_arg(name: str) -> int | None:
    return number(request.args.get(name, ""))


@bp.get("/audit")
def audit() -> str:
    """Security events, newest first; filter by user (id or email) and kind."""
    queries = services().admin.queries
    who = request.args.get("user", "").strip()
    user_id = number(who)
    if who and user_id is None:
        try:
            user_id = services().admin.user_id_for(who)
        except DomainError:
            user_id = 0  # nobody: an empty list, not every event
    kind = request.args.get("kind", "").strip() or None
    events = queries.audit(user_id=user_id, kind=kind, before_id=_int_arg("before"),
                           limit=PAGE)
    people = queries.users_by_id({i for e in events for i in (e.user_id, e.actor_id) if i})
    return render_template("admin/audit.html", events=events, people=people,
                           kinds=queries.audit_kinds(), who=who, kind=kind or "",
                           more=len(events) == PAGE)


@bp.get("/queue")
def queue() -> str:
    """Emails, SMS and Stripe jobs not yet delivered (or failed), with their last error."""
    status = request.args.get("status", "")
    kind = request.args.get("kind", "")
    if status not in QUEUE_STATUSES or kind not in ("", *MessageKind):
        abort(400)
    skip = skipped_kinds()
    messages = services().admin.queries.outbox(
        statuses=QUEUE_STATUSES[status], kind=kind or None, before_id=_int_arg("before"),
        limit=PAGE, skip_kinds=skip)
    kinds = [("", "any"), ("email", "email"), ("sms", "SMS"),
             ("stripe_customer", "Stripe customer")]
    return render_template("admin/queue.html", messages=messages, status=status, kind=kind,
                           kinds=[k for k in kinds if k[0] not in skip],
                           form=ConfirmForm(),
                           more=len(messages) == PAGE)


@bp.post(f"/queue/<{ID}:message_id>/retry")
def queue_retry(message_id: int) -> Response:
    """Try a pending or failed message again now."""
    if ConfirmForm().validate_on_submit():
        try:
            services().admin.retry_message(acting_id(), message_id)
            flash(f"Message #{message_id} will be tried again now.", "success")
        except DomainError as exc:
            flash(exc.detail, "error")
    return redirect(_back(request.form.get("back", "")) or url_for("admin.queue"))


def _back(path: str) -> str:
    """The staff page to return to, or "": a plain path under /admin/ only (safe_next
    refuses control characters, CR/LF included, which a Location header cannot carry)."""
    target = safe_next(path, "")
    return target if target.startswith("/admin/") else ""


@bp.route("/invitations", methods=["GET", "POST"])
def invitations() -> Response | str:
    """Invite someone by email (optionally as staff); list invitations still open (a void
    one, whose inviter's account is closed or, for a staff one, no longer staff, with
    them: resending revives it)."""
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invitation = services().invitations.invite(acting_id(), form.email.data or "",
                                                       as_staff=bool(form.staff.data))
        except DomainError as exc:
            for message in getattr(exc, "errors", {}).get("email", [exc.detail]):
                form.email.errors.append(message)  # type: ignore[attr-defined]
        else:
            flash(f"Invitation sent to {invitation.email}.", "success")
            return redirect(url_for("admin.invitations"))
    now = services().clock.now()
    everything = request.args.get("all") == "1"
    rows = services().admin.queries.invitations(pending_at=None if everything else now,
                                               limit=PAGE)
    queries = services().admin.queries
    people = queries.users_by_id({i.inviter_id for i in rows if i.inviter_id})
    # The rule acceptance goes by: an invitation dies with its inviter's account (and a
    # staff one with its inviter's staff access).
    states = {i.id: i.state(now, people.get(i.inviter_id or 0)) for i in rows}
    # Accepting (and resending) is refused once the address has an account of its own.
    holders = queries.users_by_email({i.email for i in rows if states[i.id] in OPEN})
    taken = {i.id for i in rows if states[i.id] in OPEN and holds(holders.get(i.email))}
    return render_template("admin/invitations.html", form=form, rows=rows, states=states,
                           taken=taken, people=people, confirm=ConfirmForm(),
                           everything=everything)


@bp.post(f"/invitations/<{ID}:invitation_id>/<any(resend, revoke):verb>")
def invitation_action(invitation_id: int, verb: str) -> Response:
    """Send a pending invitation again (new link, new expiry), or withdraw it."""
    if ConfirmForm().validate_on_submit():
        service = services().invitations
        try:
            invitation = (service.resend if verb == "resend" else service.revoke)(
                acting_id(), invitation_id)
            flash(f"Invitation to {invitation.email} "
                  f"{'sent again' if verb == 'resend' else 'revoked'}.", "success")
        except DomainError as exc:
            flash(exc.detail, "error")
    return redirect(url_for("admin.invitations"))
