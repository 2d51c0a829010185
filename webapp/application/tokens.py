"""JWTs: access tokens, rotating refresh tokens in families, logout (signing in is
webapp/application/signin.py, which asks this service for a new family and a pair).

A refresh token carries its family and generation. Refreshing spends generation
n and issues n + 1 in one atomic update. A spent token presented again, after a
few seconds' grace for racing tabs, is reuse: the whole family is revoked, and its
access tokens (the other holder's too) fail at their next check.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from webapp.application.common import Ports, Service
from webapp.application.interfaces import TokenCodec, UnitOfWork
from webapp.domain.errors import (
    AuthenticationRequired,
    InvalidCredentials,
    InvalidToken,
    NotFound,
)
from webapp.domain.model import RefreshFamily, User, new_uniquifier
from webapp.domain.sessions import family_was_ended, with_ended_family

ACCESS = "access"
REFRESH = "refresh"
LEEWAY = timedelta(seconds=5)  # the codec's clock leeway: an ended family is kept this longer
NO_SUCH_SESSION = "No such session."


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


@dataclass(frozen=True)
class Access:
    """What a valid access token stands for."""

    user: User
    family_id: str
    auth_time: datetime | None  # when a factor was last proven (None: unknown, not recent)


def session_version(user: User) -> str:
    """A digest of the uniquifier: tokens minted before a password change stop working."""
    return hashlib.sha256(user.uniquifier.encode()).hexdigest()[:16]


class TokenService(Service):
    def __init__(self, ports: Ports, codec: TokenCodec) -> None:
        super().__init__(ports)
        self.codec = codec

    # --- tokens -----------------------------------------------------------------------

    def new_family(self, user: User, now: datetime) -> RefreshFamily:
        """A new login's refresh family (recorded with the login by the sign-in)."""
        info = self.ports.request.current()
        return RefreshFamily(
            id=uuid.uuid4().hex, user_id=user.id or 0, created_at=now,
            user_agent=info.user_agent[:255], ip=info.ip,
        )

    def pair(self, user: User, family_id: str, generation: int, auth_time: int) -> TokenPair:
        """``auth_time``: when the user last proved a factor (epoch seconds); a refresh
        keeps it, so that only a new proof makes a token "recent"."""
        now = self.now()
        base = {"sub": str(user.id), "iss": self.policy.issuer, "iat": now,
                "sv": session_version(user), "fam": family_id, "auth_time": auth_time}
        access = {**base, "type": ACCESS, "exp": now + self.policy.access_ttl,
                  "jti": secrets.token_hex(16)}
        refresh = {**base, "type": REFRESH, "exp": now + self.policy.refresh_ttl,
                   "jti": secrets.token_hex(16), "gen": generation}
        return TokenPair(self.codec.encode(access), self.codec.encode(refresh))

    def _decode(self, token: str) -> dict[str, Any]:
        """The codec's claims, in the shapes this service signs them: a token signed
        with the same key by something else (another service sharing it) is invalid,
        not a crash further on."""
        claims = self.codec.decode(token)
        sub, generation = claims.get("sub"), claims.get("gen", 0)
        if not (isinstance(sub, str) and sub.isascii() and sub.isdigit() and len(sub) < 19
                and type(generation) is int):
            raise InvalidToken("The token is invalid.")
        return claims

    def _claims(self, token: str, kind: str) -> dict[str, Any]:
        claims = self._decode(token)
        if claims.get("type") != kind:
            raise InvalidToken(f"This is not an {kind} token." if kind == ACCESS
                               else f"This is not a {kind} token.")
        return claims

    def refresh(self, token: str) -> TokenPair:
        """Spend this refresh token for a new pair; reuse of a spent one revokes its family."""
        claims = self._claims(token, REFRESH)
        with self.ports.uow() as uow:
            family = uow.families.get(str(claims.get("fam")))
            user = uow.users.get(int(claims["sub"]))
            if family is None or not family.is_active or not _current(user, claims):
                raise InvalidToken("The refresh token is no longer valid.")
            assert user is not None
            # Counted only for a live family: a dead token (an old, leaked one) must not
            # spend its owner's budget and lock the owner's live sessions out.
            self.ports.throttle.spend("refresh_per_account", f"user:{claims.get('sub')}")
            generation = int(claims.get("gen", -1))
            now = self.now()
            ip = self.ports.request.current().ip  # the list shows where it was last used
            if (generation == family.generation
                    and uow.families.rotate(family.id, generation, now, ip)):
                pair = self.pair(user, family.id, generation + 1, _auth_time(claims))
                uow.commit()
                return pair
            fresh = uow.families.get(family.id)
            # Only the token spent by the last rotation gets the grace (racing tabs held it);
            # an older generation is reuse however recent the last rotation was.
            if (fresh is not None and generation == fresh.generation - 1
                    and fresh.within_grace(now, self.policy.refresh_grace)):
                raise InvalidToken("This refresh token was just used.", code="token_spent")
            # A theft signal: the pair the other holder got dies too, access token included.
            self.end_families_in(uow, user, [family], "reuse")
            self.audit(uow, "authn_token_reuse", user, family=family.id)
            uow.commit_and_raise(InvalidToken(
                "This refresh token was already used; the session is revoked.",
                code="token_reused"))

    def user_for_access(self, token: str) -> User:
        """The active user an access token stands for (one primary-key read)."""
        return self.access(token).user

    def access(self, token: str) -> Access:
        """The access token's user, login (family) and when a factor was last proven."""
        try:
            claims = self._claims(token, ACCESS)
        except InvalidToken as exc:
            raise AuthenticationRequired(exc.detail) from exc
        with self.ports.read() as uow:  # the one read per request: revocation and the profile
            user = uow.users.get(int(claims["sub"]))
        if not _current(user, claims):
            raise AuthenticationRequired("The access token is no longer valid.")
        assert user is not None
        if family_was_ended(user.ended_families, claims.get("fam")):  # ended from the list
            raise AuthenticationRequired("The access token is no longer valid.")
        auth_time = _auth_time(claims)
        return Access(user, str(claims.get("fam", "")),
                      datetime.fromtimestamp(auth_time, UTC) if auth_time else None)

    def renew(self, user: User, family_id: str, auth_time: int) -> TokenPair:
        """A new pair for this login with a new ``auth_time`` (after re-authentication):
        the family moves on a generation, so the refresh token held so far is spent."""
        with self.ports.uow() as uow:
            family = uow.families.get(family_id)
            if family is None or not family.is_active or family.user_id != user.id:
                raise AuthenticationRequired("This login has ended.")
            if not uow.families.rotate(family.id, family.generation, self.now(),
                                       self.ports.request.current().ip):
                raise InvalidToken("This login was just refreshed; try again.",
                                   code="token_spent")
            pair = self.pair(user, family.id, family.generation + 1, auth_time)
            uow.commit()
            return pair

    def access_family(self, token: str) -> str | None:
        """The login (refresh family) an access token belongs to; call after checking it."""
        family = self._claims(token, ACCESS).get("fam")
        return family if isinstance(family, str) else None

    def user_for_session(self, user_id: int, version: str) -> User:
        """The active user of a browser session, if its session version is still current."""
        with self.ports.read() as uow:
            user = uow.users.get(user_id)
        if user is None or not user.is_active or version != session_version(user):
            raise AuthenticationRequired("The session has ended.")
        return user

    def verify(self, token: str) -> None:
        """Valid and unrevoked, checked fully: the user is active with the same session
        version and the token's login (refresh family) is not logged out; a refresh
        token must also be the family's current generation.

        Bearer endpoints check only the user (one read); an access token of a login
        that was logged out lives until its short expiry there, as with simplejwt.
        """
        claims = self._decode(token)
        kind = claims.get("type")
        if kind not in (ACCESS, REFRESH):
            raise InvalidToken()
        with self.ports.uow() as uow:
            family = uow.families.get(str(claims.get("fam")))
            user = uow.users.get(int(claims["sub"]))
        live = family is not None and family.is_active and _current(user, claims)
        if live and kind == REFRESH:
            live = family is not None and family.generation == claims.get("gen")
        if not live:
            raise InvalidToken(f"The {kind} token is no longer valid.")

    def logout(self, refresh: str) -> None:
        """Revoke the refresh token's whole family (this login on every tab)."""
        claims = self._claims(refresh, REFRESH)
        with self.ports.uow() as uow:
            family = uow.families.get(str(claims.get("fam")))
            if family is None or family.user_id != int(claims["sub"]):
                raise InvalidToken()
            if family.is_active:
                uow.families.revoke(family.id, self.now(), "logout")
                self.audit(uow, "authn_logout", uow.users.get(family.user_id))
                uow.commit()

    def end_families_in(self, uow: UnitOfWork, user: User, families: list[RefreshFamily],
                        reason: str) -> None:
        """End these logins of ``user`` now: each family is revoked (its refresh token
        fails at once) and noted on the account row, which every access-token check reads,
        so that its access tokens fail at their next check, not at their expiry."""
        if not families:
            return
        now = self.now()
        row = uow.users.get(user.id or 0, lock=True)
        if row is None:
            raise NotFound(NO_SUCH_SESSION)
        for family in families:
            uow.families.revoke(family.id, now, reason)
            row.ended_families = with_ended_family(
                row.ended_families, family.id, now, self.policy.access_ttl + LEEWAY)
        uow.users.save(row)

    def revoke_all_in(self, uow: UnitOfWork, user: User, reason: str) -> int:
        return uow.families.revoke_all(user.id or 0, self.now(), reason)

    def revoke_all(self, user_id: int, reason: str = "logout_everywhere") -> None:
        """Log out everywhere: every refresh family, and (new uniquifier) every session."""
        with self.ports.uow() as uow:
            user = uow.users.get(user_id, lock=True)
            if user is None:
                raise InvalidCredentials()
            self.revoke_all_in(uow, user, reason)
            user.uniquifier = new_uniquifier()
            uow.users.save(user)
            self.audit(uow, "authn_logout_all", user)
            uow.commit()


def _auth_time(claims: dict[str, Any]) -> int:
    """Tokens minted before ``auth_time`` existed count as never recent (0)."""
    value = claims.get("auth_time", 0)
    return value if type(value) is int else 0


def _current(user: User | None, claims: dict[str, Any]) -> bool:
    return user is not None and user.is_active and claims.get("sv") == session_version(user)
