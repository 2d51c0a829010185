"""Fakes of the hashing, signing and clock ports."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from webapp.domain.errors import InvalidToken


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


class FakePasswordHasher:
    """Reversible on purpose: tests can see what was hashed. Counts work for timing tests."""

    def __init__(self, version: str = "v1") -> None:
        self.version = version
        self.verifications = 0
        self.hashes = 0

    def hash(self, password: str) -> str:
        self.hashes += 1
        return f"fake${self.version}${password}"

    def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        return password_hash.split("$", 2)[-1] == password

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"fake${self.version}$")

    def dummy_verify(self, password: str) -> None:
        self.verifications += 1


class RacingPasswords:
    """Wraps a PasswordHasher: ``race`` runs once, during the first password check, as if
    another request changed the account between a login's read and its write."""

    def __init__(self, inner: Any, race: Callable[[], None]) -> None:
        self.inner = inner
        self.race: Callable[[], None] | None = race

    def verify(self, password_hash: str, password: str) -> bool:
        race, self.race = self.race, None
        if race is not None:
            race()
        return bool(self.inner.verify(password_hash, password))

    def __getattr__(self, name: str) -> Any:  # hash, needs_rehash, dummy_verify
        return getattr(self.inner, name)


class FakeCodeHasher:
    def hash(self, code: str) -> str:
        return hashlib.sha256(b"k" + code.encode()).hexdigest()

    def matches(self, code: str, code_hash: str) -> bool:
        return hmac.compare_digest(self.hash(code), code_hash)


class FakeSigner:
    """Tokens are JSON with the purpose and issue time; the clock decides expiry."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def dumps(self, purpose: str, payload: dict[str, Any]) -> str:
        return json.dumps({"p": purpose, "t": self.clock.now().timestamp(), "d": payload})

    def loads(self, purpose: str, token: str, max_age: int) -> dict[str, Any]:
        return self.loads_dated(purpose, token, max_age)[0]

    def loads_dated(self, purpose: str, token: str, max_age: int
                    ) -> tuple[dict[str, Any], datetime]:
        try:
            data = json.loads(token)
        except ValueError as exc:
            raise InvalidToken() from exc
        if not isinstance(data, dict) or data.get("p") != purpose:
            raise InvalidToken()
        if self.clock.now().timestamp() - data["t"] > max_age:
            raise InvalidToken("expired", code="token_expired")
        return data["d"], datetime.fromtimestamp(int(data["t"]), UTC)


class FakeTokenCodec:
    """Opaque handles to stored claims; expiry checked against the clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.issued: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def encode(self, claims: dict[str, Any]) -> str:
        token = f"jwt-{next(self._ids)}"
        self.issued[token] = dict(claims)
        return token

    def decode(self, token: str) -> dict[str, Any]:
        claims = self.issued.get(token)
        if claims is None:
            raise InvalidToken()
        if self.clock.now() >= claims["exp"]:
            raise InvalidToken("expired", code="token_expired")
        return dict(claims)


class FakeBreachedPasswords:
    def __init__(self, *breached: str) -> None:
        self.breached = set(breached)
        self.asked: list[str] = []

    def is_breached(self, password: str) -> bool:
        self.asked.append(password)
        return password in self.breached


# --- repositories and unit of work ---------------------------------------------------
