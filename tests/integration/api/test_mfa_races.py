"""A second factor raced: the same recovery code, or the same code from the app, sent by
many sign-ins at once (real threads, the test database) signs in exactly once."""

from __future__ import annotations

import time
from collections import Counter

import pyotp
import requests

from tests.conftest import PASSWORD
from tests.integration.api.test_concurrency import THREADS, all_at_once

EMAIL = "jane@example.com"


def _pending(client) -> str:
    answer = client.post("/api/auth/login/", json={"email": EMAIL, "password": PASSWORD})
    return answer.json["mfa_token"]


def _turn_on(client, tokens) -> tuple[pyotp.TOTP, list[str]]:
    auth = {"Authorization": f"Bearer {tokens['access']}"}
    totp = pyotp.TOTP(client.post("/api/auth/mfa/totp/setup/", headers=auth).json["secret"])
    confirmed = client.post("/api/auth/mfa/totp/confirm/", headers=auth,
                            json={"code": totp.now()})
    return totp, confirmed.json["recovery_codes"]


def _race(server: str, bodies: list[dict]) -> Counter:
    responses = all_at_once([
        lambda body=body: requests.post(f"{server}/api/auth/login/mfa/", json=body, timeout=60)
        for body in bodies])
    return Counter(r.status_code for r in responses)


def test_one_recovery_code_raced_signs_in_once(server, client, tokens):
    _, codes = _turn_on(client, tokens)
    tokens_ = [_pending(client) for _ in range(THREADS)]
    statuses = _race(server, [{"mfa_token": t, "recovery_code": codes[0]} for t in tokens_])
    assert statuses == {200: 1, 400: THREADS - 1}


def test_one_code_from_the_app_raced_signs_in_once(server, client, tokens):
    totp, _ = _turn_on(client, tokens)
    code = totp.at(time.time() + 30)  # a step not spent by the set-up
    tokens_ = [_pending(client) for _ in range(THREADS)]
    statuses = _race(server, [{"mfa_token": t, "code": code} for t in tokens_])
    assert statuses == {200: 1, 400: THREADS - 1}
