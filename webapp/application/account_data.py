"""A person's data: downloading all of it, and deleting the account.

Deletion (recent sign-in) ends every session and token at once and refuses sign-in;
the account is erased when ``ACCOUNT_DELETION_GRACE`` is over, by an outbox job due
then (idempotent, retried, delivered by ``flask worker`` or the inline thread), unless
the cancel link came first. Erasure removes the user row and what hangs on it, the
bodies of their messages and the invitations to them, pseudonymises the audit log, and
queues the deletion of the Stripe customer (a job of its own, so Stripe being down
never holds the erasure back). A grace of 0 erases in the request itself.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from webapp.application.audit_log import write_json_line
from webapp.application.common import Ports, Service
from webapp.application.interfaces import UnitOfWork
from webapp.application.sessions import SessionService
from webapp.application.staff import account_for, invitation_state, keep_staff
from webapp.application.stripe_customer import queue_customer_deletion, stripe_call_lease
from webapp.application.tokens import TokenService
from webapp.domain.errors import AuthenticationRequired, Conflict, InvalidToken, NotFound
from webapp.domain.invitations import InvitationState
from webapp.domain.model import MessageKind, OutboxMessage, User, new_uniquifier

CANCEL_PURPOSE = "account-delete-cancel"
INVALID_CANCEL = "This cancel link is invalid, expired or already used."


def _at(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _second_factors(uow: UnitOfWork, uid: int) -> dict[str, Any]:
    """Which factors are on, and the passkeys by name (never a key or secret)."""
    totp, passkeys = uow.totp.for_user(uid), uow.passkeys.for_user(uid)
    kinds = ["totp"] if totp is not None and totp.confirmed_at else []
    return {"kinds": kinds + (["passkey"] if passkeys else []),
            "passkeys": [{"name": p.name, "created_at": _at(p.created_at),
                          "last_used_at": _at(p.last_used_at)} for p in passkeys],
            "recovery_codes_left": len(uow.recovery_codes.unused(uid))}


class AccountDataService(Service):
    def __init__(self, ports: Ports, tokens: TokenService, sessions: SessionService) -> None:
        super().__init__(ports)
        self.tokens = tokens
        self.sessions = sessions  # browser sessions (outside the unit of work)

    # --- export ---------------------------------------------------------------------------

    def export(self, user_id: int, auth_time: datetime | None) -> dict[str, Any]:
        """Everything held about the user, as JSON-ready data. *Fresh*; rate-limited per
        account; audited. Secrets (password hash, TOTP secret, code hashes) never leave."""
        self.require_recent(auth_time)
        self.ports.throttle.spend("export_per_account", str(user_id))
        with self.ports.uow() as uow:
            user = uow.users.get(user_id)
            if user is None or not user.is_active:
                raise AuthenticationRequired()
            data = self._gather(uow, user)
            self.audit(uow, "account_exported", user)
            uow.commit()
        return data

    def _gather(self, uow: UnitOfWork, user: User) -> dict[str, Any]:
        uid = user.id or 0
        return {
            "exported_at": _at(self.now()),
            "profile": {"id": user.id, "first_name": user.first_name,
                        "last_name": user.last_name, "created_at": _at(user.created_at),
                        "last_login_at": _at(user.last_login_at),
                        "password_changed_at": _at(user.password_changed_at),
                        "is_staff": user.is_staff},
            "addresses": [{"channel": c.value, "address": user.address(c),
                           "verified_at": _at(user.verified_at(c))} for c in user.channels()],
            "address_changes": [
                {"channel": c.channel.value, "from": c.old_value, "to": c.new_value,
                 "requested_at": _at(c.created_at), "confirmed_at": _at(c.confirmed_at),
                 "undone_at": _at(c.undone_at)} for c in uow.address_changes.for_user(uid)],
            "sessions": [
                {"id": b.id, "kind": "browser", "created_at": _at(b.created_at),
                 "last_seen_at": _at(b.last_seen_at), "ended_at": None, "ip": b.ip,
                 "user_agent": b.user_agent, "device": b.device}
                for b in self.sessions.browsers(user)] + [
                {"id": f.id, "kind": "api", "created_at": _at(f.created_at),
                 "last_seen_at": _at(f.rotated_at or f.created_at),
                 "ended_at": _at(f.revoked_at), "ip": f.ip, "user_agent": f.user_agent}
                for f in uow.personal_data.families(uid)],
            "activity": [{"event": e.kind, "at": _at(e.created_at),  # staff's are theirs
                          "ip": "" if e.by_staff else e.ip,
                          "user_agent": "" if e.by_staff else e.user_agent}
                         for e in uow.personal_data.activity(uid)],
            "invitations": [
                {"direction": "sent" if i.inviter_id == uid else "received", "email": i.email,
                 "created_at": _at(i.created_at),
                 "state": invitation_state(self, uow, i).value}
                for i in uow.personal_data.invitations(uid, user.email)],
            "billing": {"customer": user.stripe_customer_id, "subscriptions": [
                {"id": s.stripe_id, "plan": s.price_id, "status": s.status,
                 "current_period_end": _at(s.current_period_end),
                 "cancel_at_period_end": s.cancel_at_period_end}
                for s in uow.subscriptions.for_user(uid, user.stripe_customer_id)]},
            "second_factors": _second_factors(uow, uid),
        }

    # --- deletion -------------------------------------------------------------------------

    def request_deletion(self, user_id: int, auth_time: datetime | None) -> datetime | None:
        """The user asks for their account to go. *Fresh*. Returns when it will be erased
        (None: it already is)."""
        self.require_recent(auth_time)
        return self._delete(user_id, None)

    def delete_by_staff(self, identifier: str, actor_id: int | None = None) -> datetime | None:
        """``flask users delete``: the same path, audited as a staff action."""
        with self.ports.uow() as uow:
            user = account_for(self, uow, identifier)
        if user is None:
            raise NotFound(f"No account for {identifier}.")
        return self._delete(user.id or 0, actor_id, staff=True)

    def _delete(self, user_id: int, actor_id: int | None, staff: bool = False
                ) -> datetime | None:
        with self.ports.uow() as uow:
            user = uow.users.get(user_id, lock=True)
            if user is None or (not staff and not user.is_active):
                raise AuthenticationRequired()
            if user.deletion_due_at is not None:
                raise Conflict("This account is already waiting for its deletion.")
            keep_staff(uow, user)
            actor = uow.users.get(actor_id) if actor_id is not None else None
            self.audit(uow, "account_delete_requested", user, actor=actor, by_staff=staff)
            grace = self.policy.account_deletion_grace
            # Grace 0 while a job may be sending the account's data to Stripe: the account
            # closes now and is erased once that job's lease is over (see stripe_customer).
            due = self.now() + grace if grace else stripe_call_lease(uow, user_id, self.now())
            if due is None:
                self.erase(uow, user, keep_message=None)
                uow.commit()
                self.sessions.forget_browsers(user_id)
                return None
            self._schedule(uow, user, due, notify=bool(grace))
            uow.commit()
            return due

    def _schedule(self, uow: UnitOfWork, user: User, due: datetime, notify: bool) -> None:
        was_active = user.is_active
        user.is_active, user.deletion_due_at = False, due
        user.uniquifier = new_uniquifier()
        uow.users.save(user)  # a new uniquifier: every browser session and token ends
        self.tokens.revoke_all_in(uow, user, reason="account_deleted")
        now = self.now()
        # "active": how a cancel leaves it (a deactivated account stays so), for the
        # cancel links of later messages too (``deletion_notice``).
        uow.outbox.add(OutboxMessage(
            kind=MessageKind.ACCOUNT_ERASE,
            payload={"user_id": user.id, "due": _at(due), "active": was_active},
            created_at=now, next_attempt_at=due, user_id=user.id,
            idempotency_key=f"erase-{user.id}-{int(due.timestamp())}"))
        if not notify:
            return  # no grace: nothing to cancel
        context = deletion_context(self, user, due, was_active)
        self.tell(uow, user, "account_deletion", context)  # a proven address first

    def cancel_deletion(self, token: str) -> User:
        """The cancel link: the account is back as it was (signed out; sign in again)."""
        with self.ports.uow() as uow:
            user, payload = self._cancelled(uow, token, lock=True)
            user.deletion_due_at = None
            user.is_active = bool(payload.get("active", True))
            uow.users.save(user)
            self.audit(uow, "account_delete_cancelled", user)
            uow.commit()
            return user

    def check_cancel(self, token: str) -> None:
        """Whether ``cancel_deletion`` would honour the link now (InvalidToken if not).
        Reads only: nothing changes and nothing is audited."""
        with self.ports.uow() as uow:
            self._cancelled(uow, token, lock=False)

    def _cancelled(self, uow: UnitOfWork, token: str, *, lock: bool
                   ) -> tuple[User, dict[str, Any]]:
        """The account a cancel link keeps, and the link's payload."""
        max_age = int(self.policy.account_deletion_grace.total_seconds()) or 1
        try:
            payload = self.ports.signer.loads(CANCEL_PURPOSE, token, max_age)
        except InvalidToken as exc:
            raise InvalidToken(INVALID_CANCEL) from exc
        user = uow.users.get(int(payload.get("uid") or 0), lock=lock)
        if (user is None or user.deletion_due_at is None
                or _at(user.deletion_due_at) != payload.get("due")
                or self.now() >= user.deletion_due_at):
            raise InvalidToken(INVALID_CANCEL)
        return user, payload

    def cancel_hijackers_deletion(self, uow: UnitOfWork, user: User, since: datetime) -> bool:
        """An address change's undo takes a hijacked account back: a deletion that its user
        asked for since ``since`` (when the change was asked for) was the hijacker's, and
        goes with the rest of their doing; the account is active again (the undo signs it
        out). One that staff asked for stays: staff decide. True when one was cancelled."""
        if user.deletion_due_at is None:
            return False
        asked = uow.audit.page(user.id or 0, ["account_delete_requested"], 0, 1)
        if not asked or asked[0].data.get("by_staff") or asked[0].created_at < since:
            return False
        user.deletion_due_at = None
        user.is_active = True  # only an active account's user may ask (see _delete)
        uow.users.save(user)  # the erasure job finds nothing due and is done
        self.audit(uow, "account_delete_cancelled", user, reason="address_change_undone")
        return True

    # --- erasure ----------------------------------------------------------------------------

    def erase_job(self, message: OutboxMessage) -> None:
        """The ``ACCOUNT_ERASE`` job, due at the end of the grace. Done (and nothing to do)
        when the account is gone already or its deletion was cancelled."""
        with self.ports.uow() as uow:
            user = uow.users.get(int(message.payload.get("user_id") or 0), lock=True)
            if user is None or _at(user.deletion_due_at) != message.payload.get("due"):
                return
            if user.deletion_due_at is not None and self.now() < user.deletion_due_at:
                raise RuntimeError("the grace is not over yet")  # retried later
            if stripe_call_lease(uow, user.id or 0, self.now()) is not None:
                raise RuntimeError("a Stripe call with the account's data is under way")
            self.erase(uow, user, keep_message=message.id)
            uow.commit()
        self.sessions.forget_browsers(user.id or 0)

    def _withdraw_invitations(self, uow: UnitOfWork, user: User) -> None:
        """Erasure sets their invitations' inviter to NULL, which reads as the command
        line's: the invitations they sent and nobody accepted are withdrawn first (expired
        ones too, which a resend would otherwise revive as the command line's), since an
        invitation stands only while its inviter's account is active (and staff, for a
        staff invitation)."""
        now = self.now()
        for invitation in uow.personal_data.invitations(user.id or 0, None):
            if invitation.inviter_id == user.id and invitation.state(
                    now, user) not in (InvitationState.ACCEPTED, InvitationState.REVOKED):
                invitation.revoked_at = now
                uow.invitations.save(invitation)

    def erase(self, uow: UnitOfWork, user: User, keep_message: int | None) -> None:
        """Erase the person now, in this transaction; the Stripe customer is queued.
        Once committed, the caller forgets the browser session records (outside any
        transaction: the session store commits each of its steps)."""
        pseudonym = f"erased-{secrets.token_hex(6)}"
        deleting = queue_customer_deletion(self, uow, user.stripe_customer_id, user.id or 0)
        addresses = [a for a in (user.email, user.phone) if a]
        addresses += [c.old_value for c in uow.address_changes.for_user(user.id or 0)
                      if c.old_value]
        self._withdraw_invitations(uow, user)
        uow.personal_data.erase(user.id or 0, addresses, pseudonym, keep_message,
                                user.stripe_customer_id)
        event = self.audit_event("account_erased", None, subject=pseudonym,
                                 customer_deleted=deleting)
        event.ip = event.user_agent = ""  # with grace 0, the request is the person's
        uow.audit.add(event)
        write_json_line(event)


def deletion_context(service: Service, user: User, due: datetime,
                     active: bool | None) -> dict[str, Any]:
    """When the account waiting for erasure goes, and the link that keeps it (None when
    ``active``, how a cancel would leave the account, is not known)."""
    link = None
    if active is not None:
        token = service.ports.signer.dumps(CANCEL_PURPOSE, {
            "uid": user.id, "due": _at(due), "active": active})
        link = service.policy.link(f"/account/delete/cancel/{token}")
    return {"cancel_link": link,
            "days": max(1, round(service.policy.account_deletion_grace.days)),
            "due": due.strftime("%-d %B %Y, %H:%M UTC")}


def deletion_notice(service: Service, uow: UnitOfWork, user: User) -> dict[str, Any]:
    """``deletion_context`` for a later message about an account waiting for erasure,
    with a fresh cancel link while the deletion can still be cancelled."""
    due = user.deletion_due_at
    assert due is not None
    job = uow.outbox.latest(user.id or 0, MessageKind.ACCOUNT_ERASE)
    active = (job.payload.get("active") if job is not None and service.now() < due
              and service.policy.account_deletion_grace  # grace 0: nothing to cancel
              and job.payload.get("due") == _at(due) else None)
    return deletion_context(service, user, due, active)
