"""The second factor through the JSON API, with a real authenticator (pyotp): set up,
sign in in two steps, recovery codes, recent sign-in and re-authentication."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest

from tests.conftest import PASSWORD, Outbox
from tests.helpers.app import audit_rows

EMAIL = "jane@example.com"


def bearer(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


def login(client, password=PASSWORD):
    return client.post("/api/auth/login/", json={"email": EMAIL, "password": password})


@pytest.fixture
def with_app(client, tokens):
    """An account with an authenticator app on: (access token, totp, recovery codes)."""
    access = tokens["access"]
    setup = client.post("/api/auth/mfa/totp/setup/", headers=bearer(access))
    assert setup.status_code == 200, setup.json
    totp = pyotp.TOTP(setup.json["secret"])
    assert setup.json["otpauth_uri"] == totp.provisioning_uri(name=EMAIL, issuer_name="Accounts")
    assert setup.json["qr_svg"].startswith("<svg")
    confirmed = client.post("/api/auth/mfa/totp/confirm/", headers=bearer(access),
                            json={"code": totp.now()})
    assert confirmed.status_code == 200, confirmed.json
    return access, totp, confirmed.json["recovery_codes"]


def next_code(totp: pyotp.TOTP, steps: int = 1) -> str:
    """A code of a step not yet spent (one step ahead is within the drift)."""
    return totp.at(time.time() + 30 * steps)


def test_status_then_setup_then_two_step_sign_in(client, tokens, with_app):
    access, totp, codes = with_app
    assert len(codes) == 10
    status = client.get("/api/auth/mfa/", headers=bearer(access)).json
    assert status == {"totp": True, "passkeys": 0, "recovery_codes_left": 10}
    first = login(client)
    assert first.status_code == 200
    assert first.json["mfa_required"] is True and "tokens" not in first.json
    assert first.json["methods"] == ["totp", "recovery_code"]
    token_shape = client.post("/api/auth/token/", json={"email": EMAIL, "password": PASSWORD})
    assert token_shape.json["mfa_required"] is True and "access" not in token_shape.json
    done = client.post("/api/auth/login/mfa/", json={"mfa_token": first.json["mfa_token"],
                                                     "code": next_code(totp)})
    assert done.status_code == 200, done.json
    assert done.json["tokens"]["access"] and done.json["user"]["email"] == EMAIL
    again = client.post("/api/auth/login/mfa/", json={"mfa_token": first.json["mfa_token"],
                                                      "code": next_code(totp)})
    assert again.status_code == 400 and again.json["code"] == "invalid_code"


def test_a_wrong_password_says_nothing_about_a_second_factor(client, with_app):
    refused = login(client, "not the password at all")
    assert refused.status_code == 401 and "mfa" not in refused.text


def test_a_recovery_code_signs_in_once(client, with_app):
    _, _, codes = with_app
    first = login(client).json["mfa_token"]
    ok = client.post("/api/auth/login/mfa/", json={"mfa_token": first,
                                                   "recovery_code": codes[0]})
    assert ok.status_code == 200
    second = login(client).json["mfa_token"]
    reused = client.post("/api/auth/login/mfa/", json={"mfa_token": second,
                                                       "recovery_code": codes[0]})
    assert reused.status_code == 400 and reused.json["code"] == "invalid_code"


@pytest.mark.parametrize("body", [{}, {"mfa_token": "x"}, {"mfa_token": 5, "code": "1"},
                                  {"mfa_token": "x", "code": "12345678901234567890"},
                                  {"mfa_token": "nope", "code": "123456"}])
def test_bad_second_steps_are_clear_400s(client, body):
    answer = client.post("/api/auth/login/mfa/", json=body)
    assert answer.status_code == 400, answer.json
    assert answer.json["code"] in ("invalid", "validation_error", "invalid_code"), answer.json


def test_sensitive_changes_need_a_recent_sign_in_and_reauthenticate_gives_one(app, client,
                                                                              with_app):
    access, totp, _ = with_app
    services = app.extensions["services"]
    services.mfa.policy = replace(services.mfa.policy, reauth_max_age=timedelta(0))
    stale = client.delete("/api/auth/mfa/totp/", headers=bearer(access))
    assert stale.status_code == 403 and stale.json["code"] == "reauthentication_required"
    regenerate = client.post("/api/auth/mfa/recovery-codes/", headers=bearer(access))
    assert regenerate.status_code == 403
    wrong = client.post("/api/auth/reauthenticate/", headers=bearer(access),
                        json={"password": "not the password at all"})
    assert wrong.status_code == 400
    fresh = client.post("/api/auth/reauthenticate/", headers=bearer(access),
                        json={"code": next_code(totp)})
    assert fresh.status_code == 200, fresh.json
    services.mfa.policy = replace(services.mfa.policy, reauth_max_age=timedelta(minutes=5))
    removed = client.delete("/api/auth/mfa/totp/", headers=bearer(fresh.json["access"]))
    assert removed.status_code == 204
    assert login(client).json["tokens"]  # one step again
    assert client.get("/api/auth/mfa/", headers=bearer(fresh.json["access"])).json == {
        "totp": False, "passkeys": 0, "recovery_codes_left": 0}
    kinds = [row.kind for row in audit_rows(app)]
    assert "authn_reauthenticated" in kinds and "mfa_totp_removed" in kinds


def test_setup_twice_is_a_conflict_and_confirm_needs_a_right_code(client, tokens, with_app):
    access, _, _ = with_app
    assert client.post("/api/auth/mfa/totp/setup/", headers=bearer(access)).status_code == 409
    assert client.post("/api/auth/mfa/totp/confirm/", headers=bearer(access),
                       json={"code": "123456"}).json["code"] == "invalid_code"


def test_the_openapi_document_has_every_second_factor_endpoint(client):
    paths = client.get("/api/openapi.json").json["paths"]
    for path in ("/api/auth/mfa/", "/api/auth/mfa/totp/setup/", "/api/auth/mfa/totp/confirm/",
                 "/api/auth/mfa/totp/", "/api/auth/mfa/recovery-codes/",
                 "/api/auth/login/mfa/", "/api/auth/reauthenticate/"):
        assert path in paths, path


def test_pending_sign_ins_that_expired_are_forgotten(app, client, with_app):
    from tests.fakes import FakeClock
    from webapp.extensions import db
    from webapp.infrastructure.orm_factors import MfaChallengeRow

    def stored() -> list[str]:
        with app.app_context():
            return [row.account for row in db.session.scalars(db.select(MfaChallengeRow))]

    old = login(client).json["mfa_token"]
    assert stored() == [EMAIL]
    ports = app.extensions["ports"]
    ports.clock = FakeClock(ports.clock.now() + timedelta(minutes=6))
    assert login(client).json["mfa_required"] is True
    assert stored() == [EMAIL]  # only the new one: the expired one named the address too
    gone = client.post("/api/auth/login/mfa/", json={"mfa_token": old, "code": "123456"})
    assert gone.status_code == 400 and gone.json["code"] == "invalid_code"


def test_the_otpauth_label_holds_one_issuer_and_one_account_whatever_their_characters(
        app_factory):
    # Apps read the label as one path segment and split it at its first colon: a '/' in
    # the address or a ':' in the site's name made them show (or refuse) something else.
    site = app_factory(SITE_NAME="Acme: A/B")
    client, email = site.test_client(), "a/b@example.com"
    client.post("/api/auth/register/", json={"email": email, "password": PASSWORD})
    code = Outbox(site).code("email", email)
    client.post("/api/auth/email-verify/", json={"email": email, "code": code})
    access = client.post("/api/auth/login/", json={"email": email, "password": PASSWORD})
    setup = client.post("/api/auth/mfa/totp/setup/",
                        headers=bearer(access.json["tokens"]["access"])).json
    uri = urlsplit(setup["otpauth_uri"])
    assert (uri.scheme, uri.netloc, uri.path.count("/")) == ("otpauth", "totp", 1)
    issuer, account = unquote(uri.path[1:]).split(":")
    assert (issuer, account) == ("Acme A/B", email)
    assert parse_qs(uri.query) == {"secret": [setup["secret"]], "issuer": [issuer]}
