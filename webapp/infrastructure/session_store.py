"""Where browser sessions are kept (the SessionStore port): a table in the database, or
Redis when REDIS_URL is set (every app server then shares them without touching the
database on page views). Each call is its own short step, outside the request's unit of
work, so that ending a session holds at once for every worker."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from webapp.domain.sessions import BrowserSession
from webapp.infrastructure.orm import BrowserSessionRow

_TABLE = BrowserSessionRow.__table__  # Core statements: plain rows and rowcounts
_COLUMNS = _TABLE.c


class SqlSessionStore:
    """The ``browser_sessions`` table, through the app's database session: each call is
    its own transaction, committed at once (on SQLite, a second connection would wait
    for the write lock the request's own session holds)."""

    def __init__(self, session: Callable[[], Session]) -> None:
        self._session = session

    def _run(self, statement: Any) -> Any:
        session = self._session()
        try:
            result = session.execute(statement)
            rows = result.all() if result.returns_rows else result.rowcount
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return rows

    def add(self, session: BrowserSession, idle: timedelta) -> None:
        # The user's expired sessions go when a new one starts: the table stays small.
        self._run(delete(_TABLE).where(
            _COLUMNS.user_id == session.user_id,
            _COLUMNS.last_seen_at < session.created_at - idle))
        self._run(insert(_TABLE).values(**asdict(session)))

    def get(self, session_id: str) -> BrowserSession | None:
        rows = self._run(select(_TABLE).where(_COLUMNS.id == session_id))
        return BrowserSession(**rows[0]._mapping) if rows else None

    def touch(self, session_id: str, now: datetime, ip: str, idle: timedelta) -> None:
        self._run(update(_TABLE).where(_COLUMNS.id == session_id)
                  .values(last_seen_at=now, ip=ip))

    def delete(self, session_id: str) -> bool:
        return bool(self._run(delete(_TABLE).where(_COLUMNS.id == session_id)))

    def for_user(self, user_id: int) -> list[BrowserSession]:
        rows = self._run(select(_TABLE)
                         .where(_COLUMNS.user_id == user_id))
        return [BrowserSession(**row._mapping) for row in rows]


class RedisSessionStore:
    """One key per session (JSON, expiring ``idle`` after it was last seen) and one set
    of session ids per user, for the list."""

    def __init__(self, client: Any, prefix: str = "webapp:session") -> None:
        self._redis = client
        self._prefix = prefix

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}:{session_id}"

    def _user_key(self, user_id: int) -> str:
        return f"{self._prefix}s-of:{user_id}"

    def add(self, session: BrowserSession, idle: timedelta) -> None:
        pipe = self._redis.pipeline()
        pipe.set(self._key(session.id), _dump(session), ex=idle)
        pipe.sadd(self._user_key(session.user_id), session.id)
        pipe.expire(self._user_key(session.user_id), idle)
        pipe.execute()

    def get(self, session_id: str) -> BrowserSession | None:
        raw = self._redis.get(self._key(session_id))
        return _load(raw) if raw is not None else None

    def touch(self, session_id: str, now: datetime, ip: str, idle: timedelta) -> None:
        session = self.get(session_id)
        if session is None:
            return
        session.last_seen_at, session.ip = now, ip
        # xx: only while it exists, so a session ended meanwhile is not brought back.
        self._redis.set(self._key(session_id), _dump(session), ex=idle, xx=True)
        # The set lives as long as its most recently seen session: this one, now.
        self._redis.expire(self._user_key(session.user_id), idle)

    def delete(self, session_id: str) -> bool:
        session = self.get(session_id)
        removed = bool(self._redis.delete(self._key(session_id)))
        if session is not None:
            self._redis.srem(self._user_key(session.user_id), session_id)
        return removed

    def for_user(self, user_id: int) -> list[BrowserSession]:
        ids = sorted(i.decode() if isinstance(i, bytes) else i
                     for i in self._redis.smembers(self._user_key(user_id)))
        if not ids:
            return []
        raws = self._redis.mget([self._key(i) for i in ids])
        gone = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
        if gone:  # expired on their own: drop them from the set too
            self._redis.srem(self._user_key(user_id), *gone)
        return [_load(raw) for raw in raws if raw is not None]


def _dump(session: BrowserSession) -> str:
    values = asdict(session)
    values["created_at"] = session.created_at.timestamp()
    values["last_seen_at"] = session.last_seen_at.timestamp()
    return json.dumps(values)


def _load(raw: bytes | str) -> BrowserSession:
    values = json.loads(raw)
    values["created_at"] = datetime.fromtimestamp(values["created_at"], UTC)
    values["last_seen_at"] = datetime.fromtimestamp(values["last_seen_at"], UTC)
    return BrowserSession(**values)
