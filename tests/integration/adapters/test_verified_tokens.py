"""PyJwtCodec remembers the tokens PyJWT has verified until they expire: a client's
access token is checked by PyJWT once per process, not on every request, and nothing
else about what a token proves changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.adapters.test_adapters import KEY, claims
from webapp.domain.errors import InvalidToken
from webapp.infrastructure import security
from webapp.infrastructure.security import CLOCK_SKEW, PyJwtCodec


@pytest.fixture
def codec() -> PyJwtCodec:
    return PyJwtCodec(KEY, "webapp")


@pytest.fixture
def pyjwt_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = security.jwt.decode

    def counted(token: str, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(security.jwt, "decode", counted)
    return calls


def test_a_token_is_verified_by_pyjwt_once_and_then_answered_as_it_was(codec, pyjwt_calls):
    token = codec.encode(claims(extra="kept"))

    first, second = codec.decode(token), codec.decode(token)

    assert first == second and second["extra"] == "kept" and second["sub"] == "1"
    assert pyjwt_calls == [token]
    second["sub"] = "2"  # each caller gets its own copy
    assert codec.decode(token)["sub"] == "1"


def test_a_remembered_token_expires_exactly_when_pyjwt_would_refuse_it(
        codec, pyjwt_calls, monkeypatch):
    now = datetime.now(UTC).replace(microsecond=0)  # a JWT's times are whole seconds
    expires = now + timedelta(seconds=60)
    token = codec.encode(claims(iat=now, exp=expires))
    codec.decode(token)

    last_moment = expires.timestamp() + CLOCK_SKEW - 0.5
    monkeypatch.setattr(security.time, "time", lambda: last_moment)
    assert codec.decode(token)["sub"] == "1"  # still within the leeway: remembered
    assert len(pyjwt_calls) == 1

    monkeypatch.setattr(security.time, "time", lambda: last_moment + 1)
    monkeypatch.setattr(security.jwt.api_jwt, "datetime", _Frozen(last_moment + 1))
    with pytest.raises(InvalidToken) as caught:
        codec.decode(token)
    assert caught.value.code == "token_expired"
    assert len(pyjwt_calls) == 2  # asked PyJWT again, which refused it


def test_a_changed_token_is_not_taken_for_a_remembered_one(codec):
    token = codec.encode(claims())
    codec.decode(token)
    head, body, signature = token.split(".")
    forged = ".".join((head, body, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")))
    for bad in (forged, token + "x", token[:-1]):
        with pytest.raises(InvalidToken):
            codec.decode(bad)


def test_another_key_remembers_nothing_of_this_one(codec):
    token = codec.encode(claims())
    codec.decode(token)
    with pytest.raises(InvalidToken):
        PyJwtCodec("another key " + "y" * 40, "webapp").decode(token)


def test_at_most_verified_tokens_are_remembered(codec, monkeypatch):
    monkeypatch.setattr(PyJwtCodec, "VERIFIED", 3)
    tokens = [codec.encode(claims(jti=f"t{n}")) for n in range(5)]
    for token in tokens:
        codec.decode(token)
    assert list(codec._verified) == tokens[2:]  # noqa: SLF001 - the oldest went first


class _Frozen:
    """PyJWT's ``datetime`` with ``now`` moved to ``at`` (a POSIX time)."""

    def __init__(self, at: float) -> None:
        self._at = at

    def now(self, tz=None):  # noqa: ANN001, ANN202
        return datetime.fromtimestamp(self._at, tz)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(datetime, name)
