"""Where an account is signed in, and ending it: browser sessions kept on the server
(the ``SessionStore`` port: the database, or Redis) and API logins (refresh families),
shown as one list; each can be ended by its owner, or by staff (audited).

A browser session is a record the cookie points to (by a secret whose digest is the
record's id). Ending the record ends the cookie at its next request, wherever it is:
``/logout`` here, "end" on another device, staff. Last-seen is written at most once a
minute per session, so page views stay reads.

An API login ended here has its refresh family revoked (its refresh token fails at once)
and is noted on the account row (``User.ended_families``), which every access-token check
reads anyway: its access tokens fail at their next check too.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from webapp.application.common import Ports, Service
from webapp.application.interfaces import SessionStore, UnitOfWork
from webapp.application.staff import require_staff
from webapp.application.tokens import NO_SUCH_SESSION, TokenService, session_version
from webapp.domain.errors import (
    AuthenticationRequired,
    NotFound,
    ValidationFailed,
)
from webapp.domain.model import RefreshFamily, User
from webapp.domain.sessions import (
    SESSION_ID,
    BrowserSession,
    SessionEntry,
    SessionKind,
    session_id_of,
)


class SessionService(Service):
    def __init__(self, ports: Ports, tokens: TokenService, store: SessionStore,
                 device_label: Callable[[str], str]) -> None:
        super().__init__(ports)
        self.tokens = tokens
        self.store = store
        self.device_label = device_label

    # --- browser sessions ------------------------------------------------------------

    def start(self, user: User, replacing: str | None = None) -> str:
        """A new browser session for ``user``; the secret its cookie carries. The session
        it replaces (the browser's own, after a password change) ends."""
        if replacing:
            self.store.delete(session_id_of(replacing))
        secret = secrets.token_urlsafe(32)
        now, info = self.now(), self.ports.request.current()
        self.store.add(BrowserSession(
            id=session_id_of(secret), user_id=user.id or 0, version=session_version(user),
            created_at=now, last_seen_at=now, ip=info.ip, user_agent=info.user_agent[:255],
            device=self.device_label(info.user_agent),
        ), self.policy.session_idle)
        return secret

    def user_for_session(self, user_id: int, version: str, secret: str
                         ) -> tuple[User, BrowserSession]:
        """The signed-in user of a browser and its session record, while both are live."""
        record = self.store.get(session_id_of(secret)) if secret else None
        now = self.now()
        if (record is None or record.user_id != user_id or record.version != version
                or record.expired(now, self.policy.session_idle)):
            raise AuthenticationRequired("The session has ended.")
        user = self.tokens.user_for_session(user_id, version)
        if record.due_touch(now):
            ip = self.ports.request.current().ip
            self.store.touch(record.id, now, ip, self.policy.session_idle)
        return user, record

    def end(self, user: User, secret: str) -> None:
        """Log out this browser: its record is gone, so a copy of its cookie is worthless."""
        if self.store.delete(session_id_of(secret)):
            with self.ports.uow() as uow:
                self.audit(uow, "authn_logout", user, session_kind=SessionKind.BROWSER.value)
                uow.commit()

    def end_refused(self, user_id: int, secret: str) -> None:
        """A cookie came from another address or browser than its session began in, and
        was refused ("strong" session protection): the session's record ends too, so that
        no other copy of the cookie lives on (one taken on the network the session began
        in) and the list keeps no line for a browser that is signed out."""
        record = self.store.get(session_id_of(secret))
        if record is None or record.user_id != user_id or not self.store.delete(record.id):
            return
        with self.ports.uow() as uow:
            user = uow.users.get(user_id)
            if user is not None:
                self._audit_end(uow, user, SessionKind.BROWSER, record.id, None)
                uow.commit()

    # --- the list --------------------------------------------------------------------

    def entries(self, user: User, current: str | None = None) -> list[SessionEntry]:
        """Every live way ``user`` is signed in, newest first; ``current`` is the caller's
        own session or family id (shown as "this device")."""
        now = self.now()
        browsers = [self._browser_entry(s, current) for s in self._live_sessions(user, now)]
        with self.ports.uow() as uow:
            families = uow.families.active_for_user(user.id or 0)
        apis = [self._api_entry(f, current) for f in families if self._family_live(f, now)]
        return sorted([*browsers, *apis], key=lambda e: e.created_at, reverse=True)

    def end_one(self, user: User, session_id: str, *, actor: User | None = None) -> None:
        """End one of ``user``'s sessions. Another user's id is NotFound, as is no such id."""
        if not SESSION_ID.match(session_id):
            raise ValidationFailed.single("id", "Not a session id.")
        record = self.store.get(session_id)
        if record is not None and record.user_id == user.id:
            self.store.delete(session_id)
            with self.ports.uow() as uow:
                self._audit_end(uow, user, SessionKind.BROWSER, session_id, actor)
                uow.commit()
            return
        with self.ports.uow() as uow:
            family = uow.families.get(session_id)
            if family is None or family.user_id != user.id or not family.is_active:
                raise NotFound(NO_SUCH_SESSION)
            self.tokens.end_families_in(uow, user, [family], "ended")
            self._audit_end(uow, user, SessionKind.API, session_id, actor)
            uow.commit()

    def end_by_staff(self, actor_id: int, user_id: int, session_id: str) -> None:
        """Staff end one of a user's sessions (audited as ``authz_admin``, with the actor)."""
        with self.ports.uow() as uow:
            actor = require_staff(self, uow, actor_id, "end_session")
            user = uow.users.get(user_id)
        if user is None:
            raise NotFound(NO_SUCH_SESSION)
        self.end_one(user, session_id, actor=actor)

    def end_others(self, user: User, current: str | None) -> int:
        """End every session of ``user`` but ``current`` (the caller's); how many of those
        the list showed ended (dead records and expired logins go too, uncounted)."""
        now, ended = self.now(), 0
        for record in self._live_sessions(user, now):  # the dead ones go on the way
            if record.id != current and self.store.delete(record.id):
                ended += 1
        with self.ports.uow() as uow:
            families = [f for f in uow.families.active_for_user(user.id or 0) if f.id != current]
            live = [f for f in families if self._family_live(f, now)]
            self.tokens.end_families_in(uow, user, live, "ended")
            for expired in (f for f in families if f not in live):
                uow.families.revoke(expired.id, now, "ended")
            self.audit(uow, "sessions_ended_others", user, count=ended + len(live))
            uow.commit()
        return ended + len(live)

    def browsers(self, user: User) -> list[BrowserSession]:
        """The user's live browser sessions (the account export lists them)."""
        return self._live_sessions(user, self.now())

    def forget_browsers(self, user_id: int) -> None:
        """Delete every browser session record of the user, live or not (erasure: a record
        holds an IP address and a user agent, and Redis would keep it until it expires)."""
        for record in self.store.for_user(user_id):
            self.store.delete(record.id)

    # --- helpers ---------------------------------------------------------------------

    def _live_sessions(self, user: User, now: datetime) -> list[BrowserSession]:
        """The user's live sessions; dead ones (expired, or from before a password change
        or "log out everywhere") are cleared out on the way."""
        version, live = session_version(user), []
        for record in self.store.for_user(user.id or 0):
            if record.version == version and not record.expired(now, self.policy.session_idle):
                live.append(record)
            else:
                self.store.delete(record.id)
        return live

    def _family_live(self, family: RefreshFamily, now: datetime) -> bool:
        last = family.rotated_at or family.created_at
        return now - last <= self.policy.refresh_ttl

    def _audit_end(self, uow: UnitOfWork, user: User, kind: SessionKind, session_id: str,
                   actor: User | None) -> None:
        if actor is not None:
            self.audit(uow, "authz_admin", user, actor=actor, action="end_session",
                       session_kind=kind.value, session=session_id)
        else:
            self.audit(uow, "session_ended", user, session_kind=kind.value, session=session_id)

    def _browser_entry(self, record: BrowserSession, current: str | None) -> SessionEntry:
        return SessionEntry(
            id=record.id, kind=SessionKind.BROWSER, created_at=record.created_at,
            last_seen_at=record.last_seen_at, ip=record.ip, user_agent=record.user_agent,
            device=record.device, current=record.id == current)

    def _api_entry(self, family: RefreshFamily, current: str | None) -> SessionEntry:
        return SessionEntry(
            id=family.id, kind=SessionKind.API, created_at=family.created_at,
            last_seen_at=family.rotated_at or family.created_at, ip=family.ip,
            user_agent=family.user_agent, device=self.device_label(family.user_agent),
            current=family.id == current)
