"""Wrong tries at a reset code race on PostgreSQL: every one of them counts.

A 6-digit code stops working after MAX_CODE_ATTEMPTS wrong tries. Parallel tries
(several workers, one attacker with many client addresses) must not read the same
count and each write it plus one: then a burst of guesses would cost one try.
"""

from __future__ import annotations

import pytest
from flask import Flask

from tests.helpers.app import race
from tests.helpers.locks import waits_while_held
from webapp.domain.model import MAX_CODE_ATTEMPTS

pytestmark = pytest.mark.postgres

RACERS = 12


def test_parallel_wrong_reset_codes_all_count(app: Flask, client, verified_user, outbox) -> None:  # noqa: ANN001
    email, _ = verified_user
    assert client.post("/api/auth/password-reset/", json={"email": email}).status_code == 202
    code = outbox.code("email", email)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    def guess(_: int) -> int:
        return app.test_client().post("/api/auth/password-reset/verify/", json={
            "email": email, "code": wrong}).status_code

    assert race(guess, RACERS) == [400] * RACERS
    assert RACERS > MAX_CODE_ATTEMPTS
    # The right code comes too late: the wrong tries used up the code.
    response = client.post("/api/auth/password-reset/verify/",
                           json={"email": email, "code": code})
    assert response.status_code == 400, response.json
    assert response.json["code"] == "invalid_code"


def test_a_guess_waits_for_the_account_row_held_by_another(app: Flask, client, verified_user,  # noqa: ANN001
                                                           outbox) -> None:
    """Deterministic form of the race above: a try at a reset code takes the account's
    row lock, as a verification code does, so tries at one code are counted one by one."""
    email, _ = verified_user
    assert client.post("/api/auth/password-reset/", json={"email": email}).status_code == 202
    code = outbox.code("email", email)
    results: list[int] = []
    waited = waits_while_held(
        app, [("SELECT id FROM users WHERE email = :e FOR UPDATE", {"e": email})],
        lambda: results.append(app.test_client().post(
            "/api/auth/password-reset/verify/", json={"email": email, "code": code}
        ).status_code))
    assert waited, "the try at the code did not wait for the account's row"
    assert results == [200]
