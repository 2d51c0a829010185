"""Login and JWTs: access tokens, rotating refresh tokens in families, logout.

A refresh token carries its family and generation. Refreshing spends generation
n and issues n + 1 in one atomic update. A spent token presented again, after a
few seconds' grace for racing tabs, is reuse: the whole family is revoked.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NoReturn

from webapp.application.audit_log import write_json_line
from webapp.application.common import Kit, Toolkit, parse_identifier
from webapp.application.interfaces import LoginStore, SuccessfulLogin, TokenCodec, UnitOfWork
from webapp.application.logins import UnitOfWorkLogins
from webapp.domain.errors import (
    AuthenticationRequired,
    InvalidCredentials,
    InvalidToken,
    Unverified,
)
from webapp.domain.model import RefreshFamily, User, new_uniquifier
from webapp.domain.passwords import normalize_password

ACCESS = "access"
REFRESH = "refresh"


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


def session_version(user: User) -> str:
    """A digest of the uniquifier: tokens minted before a password change stop working."""
    return hashlib.sha256(user.uniquifier.encode()).hexdigest()[:16]


# A login whose account changed between the read and the write is checked again against
# the account as it is now, once; a second change in that moment fails it.
LOGIN_ROUNDS = 2


class TokenService(Kit):
    def __init__(self, kit: Toolkit, codec: TokenCodec, logins: LoginStore | None = None) -> None:
        super().__init__(kit)
        self.codec = codec
        self.logins = logins or UnitOfWorkLogins(kit.uow)

    # --- credentials ----------------------------------------------------------------

    def authenticate(self, *, email: str | None, phone: str | None, password: str) -> User:
        """The user whose password this is, or one InvalidCredentials for every failure."""
        return self._sign_in(email, phone, password, new_family=False).user

    def login(
        self, *, email: str | None, phone: str | None, password: str
    ) -> tuple[User, TokenPair]:
        login = self._sign_in(email, phone, password, new_family=True)
        assert login.family is not None
        return login.user, self._pair(login.user, login.family.id, 0)

    def _sign_in(
        self, email: str | None, phone: str | None, password: str, *, new_family: bool
    ) -> SuccessfulLogin:
        """Check the credentials, then record the login in one step, provided the account
        is still as checked. No transaction is open while the password is hashed."""
        address, number = parse_identifier(email, phone, self.policy.default_region)
        account = str(address or number)
        # Locked identifiers answer before any look-up: the same for unknown ones.
        self.kit.throttle.before_login(account)
        # Normalised whole: cutting first would let a combining mark at the cut compose
        # into a stored password and hide everything after it. Bodies are size-limited.
        secret = normalize_password(password)
        verified: str | None = None  # the stored hash this password was found to match
        for _ in range(LOGIN_ROUNDS):
            user = self._check_credentials(self.logins.find_user(address, number),
                                           secret, account, verified, by_phone=address is None)
            login = self._successful_login(user, secret, new_family)
            if self.logins.record(login):
                write_json_line(login.event)
                return login
            # Deactivated, password changed or logged out everywhere meanwhile: look again.
            verified = user.password_hash
        self._fail(user, "changed_during_login", account)

    def _check_credentials(
        self, user: User | None, secret: str, account: str, verified: str | None, *,
        by_phone: bool,
    ) -> User:
        if user is None:
            self.kit.passwords.dummy_verify(secret)
            self._fail(None, "unknown_account", account)
        if user.password_hash != verified and not self.kit.passwords.verify(
                user.password_hash, secret):
            self._fail(user, "wrong_password", account)
        if not user.is_active:
            self._fail(user, "deactivated", account)
        self.kit.throttle.forget_failures(account)
        # The address signed in with must be verified itself, not just some address of
        # the account (403 "unverified", as for an account not verified at all).
        if not user.is_verified or not user.vouches_for(phone=by_phone):
            raise Unverified()
        return user

    def _successful_login(self, user: User, secret: str, new_family: bool) -> SuccessfulLogin:
        password_hash = user.password_hash
        if self.kit.passwords.needs_rehash(password_hash):
            password_hash = self.kit.passwords.hash(secret)
        now = self.now()
        signed_in = replace(user, password_hash=password_hash, last_login_at=now)
        return SuccessfulLogin(
            user=signed_in, verified_hash=user.password_hash,
            event=self.audit_event("authn_login_success", signed_in),
            family=self._new_family(signed_in, now) if new_family else None,
        )

    def _fail(self, user: User | None, reason: str, account: str) -> NoReturn:
        failures, lock = self.kit.throttle.record_failure(account)
        with self.kit.uow() as uow:
            self.audit(uow, "authn_login_fail", user, reason=reason)
            if lock:
                self.audit(uow, "authn_login_lock", user, failures=failures, seconds=lock)
            uow.commit()
        raise InvalidCredentials()

    # --- tokens -----------------------------------------------------------------------

    def _new_family(self, user: User, now: datetime) -> RefreshFamily:
        info = self.kit.request.current()
        return RefreshFamily(
            id=uuid.uuid4().hex, user_id=user.id or 0, created_at=now,
            user_agent=info.user_agent[:255], ip=info.ip,
        )

    def _pair(self, user: User, family_id: str, generation: int) -> TokenPair:
        now = self.now()
        base = {"sub": str(user.id), "iss": self.policy.issuer, "iat": now,
                "sv": session_version(user), "fam": family_id}
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
        self.kit.throttle.spend("refresh_per_account", f"user:{claims.get('sub')}")
        with self.kit.uow() as uow:
            family = uow.families.get(str(claims.get("fam")))
            user = uow.users.get(int(claims["sub"]))
            if family is None or not family.is_active or not _current(user, claims):
                raise InvalidToken("The refresh token is no longer valid.")
            assert user is not None
            generation = int(claims.get("gen", -1))
            now = self.now()
            if generation == family.generation and uow.families.rotate(family.id, generation, now):
                pair = self._pair(user, family.id, generation + 1)
                uow.commit()
                return pair
            fresh = uow.families.get(family.id)
            # Only the token spent by the last rotation gets the grace (racing tabs held it);
            # an older generation is reuse however recent the last rotation was.
            if (fresh is not None and generation == fresh.generation - 1
                    and fresh.within_grace(now, self.policy.refresh_grace)):
                raise InvalidToken("This refresh token was just used.", code="token_spent")
            uow.families.revoke(family.id, now, "reuse")
            self.audit(uow, "authn_token_reuse", user, family=family.id)
            uow.commit()
            raise InvalidToken("This refresh token was already used; the session is revoked.",
                               code="token_reused")

    def user_for_access(self, token: str) -> User:
        """The active user an access token stands for (one primary-key read)."""
        try:
            claims = self._claims(token, ACCESS)
        except InvalidToken as exc:
            raise AuthenticationRequired(exc.detail) from exc
        with self.kit.read() as uow:  # the one read per request: revocation and the profile
            user = uow.users.get(int(claims["sub"]))
        if not _current(user, claims):
            raise AuthenticationRequired("The access token is no longer valid.")
        assert user is not None
        return user

    def user_for_session(self, user_id: int, version: str) -> User:
        """The active user of a browser session, if its session version is still current."""
        with self.kit.read() as uow:
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
        with self.kit.uow() as uow:
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
        with self.kit.uow() as uow:
            family = uow.families.get(str(claims.get("fam")))
            if family is None or family.user_id != int(claims["sub"]):
                raise InvalidToken()
            if family.is_active:
                uow.families.revoke(family.id, self.now(), "logout")
                self.audit(uow, "authn_logout", uow.users.get(family.user_id))
                uow.commit()

    def revoke_all_in(self, uow: UnitOfWork, user: User, reason: str) -> int:
        return uow.families.revoke_all(user.id or 0, self.now(), reason)

    def revoke_all(self, user_id: int, reason: str = "logout_everywhere") -> None:
        """Log out everywhere: every refresh family, and (new uniquifier) every session."""
        with self.kit.uow() as uow:
            user = uow.users.get(user_id, lock=True)
            if user is None:
                raise InvalidCredentials()
            self.revoke_all_in(uow, user, reason)
            user.uniquifier = new_uniquifier()
            uow.users.save(user)
            self.audit(uow, "authn_logout_all", user)
            uow.commit()


def _current(user: User | None, claims: dict[str, Any]) -> bool:
    return user is not None and user.is_active and claims.get("sv") == session_version(user)
