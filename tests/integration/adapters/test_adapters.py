"""The crypto adapters of webapp/infrastructure/security.py, against the real libraries."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from argon2 import extract_parameters
from itsdangerous import TimestampSigner

from webapp.domain.errors import InvalidToken
from webapp.infrastructure import security
from webapp.infrastructure.security import (
    CLOCK_SKEW,
    REQUIRED_CLAIMS,
    Argon2Hasher,
    HmacCodeHasher,
    ItsDangerousSigner,
    PyJwtCodec,
    SystemClock,
)

KEY = "k" * 64  # long enough for HS512 too, so the only difference is the algorithm
PASSWORD = "correct horse battery staple"


def argon2_parameters(encoded: str) -> tuple[str, dict[str, int]]:
    """``$argon2id$v=19$m=19456,t=2,p=1$salt$hash`` -> ("argon2id", {"m": 19456, ...})."""
    _, variant, _, params, _, _ = encoded.split("$")
    return variant, {k: int(v) for k, v in (p.split("=") for p in params.split(","))}


@pytest.fixture(scope="module")
def owasp() -> Argon2Hasher:
    return Argon2Hasher()


# --- Argon2Hasher --------------------------------------------------------------------------


def test_argon2_defaults_are_owasps(owasp):
    variant, params = argon2_parameters(owasp.hash(PASSWORD))
    assert variant == "argon2id"
    assert params == {"m": 19456, "t": 2, "p": 1}


def test_argon2_verifies_and_salts(owasp):
    first, second = owasp.hash(PASSWORD), owasp.hash(PASSWORD)
    assert first != second  # salted
    assert owasp.verify(first, PASSWORD)
    assert not owasp.verify(first, PASSWORD + " ")
    assert not owasp.verify("not a hash", PASSWORD)
    assert not owasp.needs_rehash(first)


def test_argon2_does_not_truncate():
    fast = Argon2Hasher(memory_cost=8, time_cost=1)
    long = "x" * 200
    assert not fast.verify(fast.hash(long), "x" * 199)
    assert not fast.verify(fast.hash(long), long[:100] + "y" + long[101:])


def test_argon2_needs_rehash_when_parameters_change():
    old = Argon2Hasher(memory_cost=8, time_cost=1).hash(PASSWORD)
    stronger = Argon2Hasher(memory_cost=16, time_cost=2)
    assert stronger.verify(old, PASSWORD)  # still verifies...
    assert stronger.needs_rehash(old)  # ...but is due for a new hash
    assert not stronger.needs_rehash(stronger.hash(PASSWORD))


def test_the_dummy_hash_costs_what_a_real_one_does(owasp):
    owasp.dummy_verify(PASSWORD)
    assert argon2_parameters(owasp._dummy) == argon2_parameters(owasp.hash(PASSWORD))
    # argon2's own parser: also the salt and digest lengths, which the cost depends on.
    assert extract_parameters(owasp._dummy) == extract_parameters(owasp.hash(PASSWORD))
    assert not owasp.verify(owasp._dummy, PASSWORD)  # a well-formed hash nothing matches
    assert Argon2Hasher()._dummy != owasp._dummy  # random, not a constant to precompute


def test_building_the_hasher_hashes_nothing(monkeypatch):
    # Each worker builds one at start-up: no 19 MiB argon2 buffer (nor its CPU) for that.
    def refuse(*args, **kwargs):
        raise AssertionError("hashed at start-up")

    monkeypatch.setattr("argon2.low_level.hash_secret", refuse)
    monkeypatch.setattr("argon2.PasswordHasher.hash", refuse)
    Argon2Hasher()


# --- PyJwtCodec ----------------------------------------------------------------------------


def claims(**overrides):
    now = datetime.now(UTC)
    base = {"sub": "1", "type": "access", "iat": now, "exp": now + timedelta(minutes=5),
            "jti": "abc", "iss": "webapp"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def codec() -> PyJwtCodec:
    return PyJwtCodec(KEY, "webapp")


def test_jwt_round_trip_uses_hs256(codec):
    token = codec.encode(claims(extra="kept"))
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    decoded = codec.decode(token)
    assert (decoded["sub"], decoded["type"], decoded["extra"]) == ("1", "access", "kept")


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_refused(codec):
    body = {k: (int(v.timestamp()) if isinstance(v, datetime) else v)
            for k, v in claims().items()}
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(body)}."
    with pytest.raises(InvalidToken):
        codec.decode(unsigned)


def test_another_algorithm_with_the_same_key_is_refused(codec):
    with pytest.raises(InvalidToken):
        codec.decode(jwt.encode(claims(), KEY, algorithm="HS512"))


def test_another_key_is_refused(codec):
    with pytest.raises(InvalidToken):
        codec.decode(jwt.encode(claims(), "o" * 64, algorithm="HS256"))


def test_a_tampered_payload_is_refused(codec):
    header, _, signature = codec.encode(claims()).split(".")
    forged = b64({**{k: str(v) for k, v in claims().items()}, "sub": "2"})
    with pytest.raises(InvalidToken):
        codec.decode(f"{header}.{forged}.{signature}")


@pytest.mark.parametrize("missing", REQUIRED_CLAIMS)
def test_every_required_claim_is_checked(codec, missing):
    assert set(REQUIRED_CLAIMS) == {"sub", "type", "iat", "exp", "jti", "iss"}
    with pytest.raises(InvalidToken):
        codec.decode(jwt.encode(claims(**{missing: None}), KEY, algorithm="HS256"))


def test_a_wrong_issuer_is_refused(codec):
    with pytest.raises(InvalidToken):
        codec.decode(codec.encode(claims(iss="someone-else")))


def test_another_servers_clock_a_little_ahead_is_tolerated_not_more(codec):
    # Signed on a server whose clock runs ahead of this one's: iat is "in the future".
    ahead = datetime.now(UTC) + timedelta(seconds=3)
    assert codec.decode(codec.encode(claims(iat=ahead)))["sub"] == "1"
    far = datetime.now(UTC) + timedelta(seconds=CLOCK_SKEW + 30)
    with pytest.raises(InvalidToken):
        codec.decode(codec.encode(claims(iat=far)))
    late = datetime.now(UTC) - timedelta(seconds=CLOCK_SKEW + 30)
    with pytest.raises(InvalidToken):
        codec.decode(codec.encode(claims(iat=late - timedelta(minutes=5), exp=late)))


def test_an_expired_token_is_refused(codec):
    past = datetime.now(UTC) - timedelta(hours=1)
    with pytest.raises(InvalidToken) as caught:
        codec.decode(codec.encode(claims(iat=past, exp=past + timedelta(minutes=5))))
    assert caught.value.code == "token_expired"


def test_garbage_is_refused(codec):
    for token in ("", "abc", "a.b.c", "\u00e9.\u00e9.\u00e9"):
        with pytest.raises(InvalidToken):
            codec.decode(token)


# --- ItsDangerousSigner ----------------------------------------------------------------


def test_signed_tokens_round_trip_and_are_purpose_bound():
    signer = ItsDangerousSigner(KEY)
    token = signer.dumps("verify-email", {"uid": 1, "email": "jane@example.com"})
    assert signer.loads("verify-email", token, 60) == {"uid": 1, "email": "jane@example.com"}
    with pytest.raises(InvalidToken):
        signer.loads("password-reset", token, 60)


def test_signed_tokens_expire(monkeypatch):
    signer = ItsDangerousSigner(KEY)
    token = signer.dumps("password-reset", {"uid": 1})
    issued = TimestampSigner.get_timestamp(TimestampSigner(KEY))
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: issued + 3601)
    with pytest.raises(InvalidToken) as caught:
        signer.loads("password-reset", token, 3600)
    assert caught.value.code == "token_expired"
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: issued + 3599)
    assert signer.loads("password-reset", token, 3600) == {"uid": 1}


def test_signed_tokens_resist_tampering_and_other_keys():
    signer = ItsDangerousSigner(KEY)
    token = signer.dumps("password-reset", {"uid": 1})
    payload, rest = token.split(".", 1)
    forged = base64.urlsafe_b64encode(b'{"uid":2}').rstrip(b"=").decode()
    for bad in (f"{forged}.{rest}", token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
                "garbage", "", "\u00e9.\u00e9.\u00e9", "\ud800"):
        with pytest.raises(InvalidToken):
            signer.loads("password-reset", bad, 60)
    with pytest.raises(InvalidToken):
        ItsDangerousSigner("o" * 64).loads("password-reset", token, 60)


def test_a_signed_non_object_is_refused():
    signer = ItsDangerousSigner(KEY)
    token = signer._serializer("password-reset").dumps([1, 2])
    with pytest.raises(InvalidToken):
        signer.loads("password-reset", token, 60)


# --- HmacCodeHasher ----------------------------------------------------------------------


def test_code_hashes_are_keyed_and_hide_the_code():
    one, same, other = HmacCodeHasher(KEY), HmacCodeHasher(KEY), HmacCodeHasher("o" * 64)
    digest = one.hash("123456")
    assert "123456" not in digest and len(digest) == 64
    assert same.hash("123456") == digest  # stable for a key: it can be looked up
    assert other.hash("123456") != digest  # another SECRET_KEY, another hash
    assert one.matches("123456", digest)
    assert not one.matches("123457", digest)
    assert not other.matches("123456", digest)


def test_codes_are_compared_in_constant_time(monkeypatch):
    calls = []
    real = security.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    hasher = HmacCodeHasher(KEY)
    assert hasher.matches("123456", hasher.hash("123456"))
    assert calls == [(hasher.hash("123456"), hasher.hash("123456"))]


def test_the_system_clock_is_aware_utc():
    now = SystemClock().now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
