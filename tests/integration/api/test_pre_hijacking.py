"""Account pre-hijacking: an attacker registers the victim's address with a password of
their own before the victim does. The victim's own registration must end with the victim
holding the account under the victim's password, and the attacker's password dead."""

from __future__ import annotations

import pytest

from tests.conftest import BILLING_ON
from tests.integration.api.conftest import PHONE, comparable, count_users


@pytest.fixture
def app(app_factory):  # noqa: ANN001, ANN201
    """Billing on: a verified account gets its Stripe customer job (off, it gets none)."""
    return app_factory(**BILLING_ON)

REGISTER = "/api/auth/register/"
CONFIRM = "/api/auth/password-reset/confirm/"
VICTIM_EMAIL = "victim@example.com"
ATTACKER = "the attacker's own passphrase"
VICTIM = "a passphrase of her own choosing"


def login(client, password, **identifier):
    return client.post("/api/auth/login/", json={**identifier, "password": password})


@pytest.mark.parametrize("by", ["code", "link"])
def test_the_victims_registration_email_takes_the_account_back(client, app, outbox, by):
    fresh = client.post(REGISTER, json={"email": "someone.else@example.com",
                                        "password": ATTACKER})
    attacker = client.post(REGISTER, json={"email": VICTIM_EMAIL, "password": ATTACKER})
    victim = client.post(REGISTER, json={"email": VICTIM_EMAIL, "password": VICTIM})
    assert attacker.status_code == victim.status_code == 201
    assert comparable(victim) == comparable(fresh) == comparable(attacker)
    assert count_users(app) == 2

    message = outbox.last("email", VICTIM_EMAIL)
    assert message.payload["template"] == "finish_signup"
    assert message.payload["subject"].startswith("Finish signing up")
    proof = ({"email": VICTIM_EMAIL, "code": outbox.code("email", VICTIM_EMAIL)}
             if by == "code" else {"token": outbox.link_token(VICTIM_EMAIL, "/reset/")})
    done = client.post(CONFIRM, json={**proof, "new_password": VICTIM,
                                      "confirm_password": VICTIM})
    assert done.status_code == 200, done.json

    signed_in = login(client, VICTIM, email=VICTIM_EMAIL)
    assert signed_in.status_code == 200, signed_in.json
    assert signed_in.json["user"]["email_verified"] is True
    assert login(client, ATTACKER, email=VICTIM_EMAIL).status_code == 401
    assert len(outbox.all("stripe_customer")) == 1


def test_the_same_by_phone_with_the_sms_code(client, outbox):
    assert client.post(REGISTER, json={"phone": PHONE, "password": ATTACKER}).status_code == 201
    assert client.post(REGISTER, json={"phone": "(415) 555-0123",
                                       "password": VICTIM}).status_code == 201
    assert outbox.last("sms", PHONE).payload["template"] == "finish_signup"

    done = client.post(CONFIRM, json={"phone": PHONE, "code": outbox.code("sms", PHONE),
                                      "new_password": VICTIM, "confirm_password": VICTIM})
    assert done.status_code == 200, done.json

    signed_in = login(client, VICTIM, phone=PHONE)
    assert signed_in.status_code == 200, signed_in.json
    assert signed_in.json["user"]["phone_verified"] is True
    assert login(client, ATTACKER, phone=PHONE).status_code == 401


def test_a_resend_after_the_victims_registration_sends_the_finish_signup_again(
        client, outbox):
    """The victim, waiting on /verify, presses resend: a verification email would prove
    the account under the attacker's password; the finish-signup comes again instead."""
    client.post(REGISTER, json={"email": VICTIM_EMAIL, "password": ATTACKER})
    client.post(REGISTER, json={"email": VICTIM_EMAIL, "password": VICTIM})

    answer = client.post("/api/auth/email-verify/resend/", json={"email": VICTIM_EMAIL})

    assert answer.status_code == 202
    message = outbox.last("email", VICTIM_EMAIL)
    assert message.payload["template"] == "finish_signup"
    done = client.post(CONFIRM, json={"email": VICTIM_EMAIL, "new_password": VICTIM,
                                      "confirm_password": VICTIM,
                                      "code": outbox.code("email", VICTIM_EMAIL)})
    assert done.status_code == 200, done.json
    assert login(client, ATTACKER, email=VICTIM_EMAIL).status_code == 401
