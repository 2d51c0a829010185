"""Email and phone verification: link, codes, expiry, lockout, resend."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import pytest
from itsdangerous.timed import TimestampSigner

from tests.conftest import BILLING_ON
from tests.integration.api.conftest import PHONE, assert_error, comparable, stored_user


@pytest.fixture
def app(app_factory):  # noqa: ANN001, ANN201
    """Billing on: a verified account gets its Stripe customer job (off, it gets none)."""
    return app_factory(**BILLING_ON)

EMAIL = "jane@example.com"
VERIFY = "/api/auth/email-verify/"
PHONE_VERIFY = "/api/auth/phone-verify/"


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.fixture
def unverified(register, outbox) -> str:
    register(EMAIL)
    return outbox.code("email", EMAIL)


@pytest.fixture
def later(monkeypatch):
    """Move itsdangerous's notion of now forward: signed links age."""
    def move(seconds: int) -> None:
        monkeypatch.setattr(TimestampSigner, "get_timestamp",
                            lambda self: int(time.time()) + seconds)
    return move


def stripe_jobs(outbox) -> list:  # noqa: ANN001
    return outbox.all("stripe_customer")


def test_verify_by_link_token(client, app, unverified, outbox):
    token = outbox.link_token(EMAIL, "/verify/")
    response = client.post(VERIFY, json={"token": token})
    assert response.status_code == 200
    assert set(response.json) == {"detail", "user"}
    assert response.json["user"]["email_verified"] is True
    assert stored_user(app, email=EMAIL).email_verified_at is not None
    assert len(stripe_jobs(outbox)) == 1
    # Twice is harmless, and queues nothing more.
    again = client.post(VERIFY, json={"token": token})
    assert again.status_code == 200 and again.json["user"]["email_verified"] is True
    assert len(stripe_jobs(outbox)) == 1


def test_verify_by_email_and_code(client, app, unverified, outbox):
    response = client.post(VERIFY, json={"email": "JANE@example.com", "code": unverified})
    assert response.status_code == 200
    assert response.json["user"]["is_verified"] is True
    assert len(stripe_jobs(outbox)) == 1
    assert client.post(VERIFY, json={"email": EMAIL, "code": unverified}).status_code == 200
    assert len(stripe_jobs(outbox)) == 1
    assert client.post("/api/auth/login/", json={
        "email": EMAIL, "password": "correct horse battery staple"}).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "", "a.b.c"])
def test_invalid_link_token_is_400(client, app, unverified, token):
    body = {"token": token} if token else {}
    assert_error(client.post(VERIFY, json=body), 400)
    assert stored_user(app, email=EMAIL).email_verified_at is None


def test_a_reset_token_is_not_a_verification_token(client, app, verified_user, register, outbox):
    register("other@example.com")
    client.post("/api/auth/password-reset/", json={"email": EMAIL})
    reset_token = outbox.link_token(EMAIL, "/reset/")
    assert_error(client.post(VERIFY, json={"token": reset_token}), 400)


def test_expired_link_is_400(client, app, unverified, outbox, later):
    token = outbox.link_token(EMAIL, "/verify/")
    later(25 * 3600)
    assert_error(client.post(VERIFY, json={"token": token}), 400, "token_expired")
    assert stored_user(app, email=EMAIL).email_verified_at is None


@dataclass
class Pending:
    """An unverified address of one channel and the code sent to it."""

    path: str
    field: str
    address: str
    lifetime: timedelta
    code: str

    def verify(self, client, code: str):  # noqa: ANN001, ANN201
        return client.post(self.path, json={self.field: self.address, "code": code})

    def verified_at(self, app):  # noqa: ANN001, ANN201
        user = stored_user(app, **{self.field: self.address})
        return user.email_verified_at if self.field == "email" else user.phone_verified_at


@pytest.fixture(params=["email", "phone"])
def pending(request, clock, register, outbox) -> Pending:  # noqa: ANN001
    if request.param == "email":
        register(EMAIL)
        return Pending(VERIFY, "email", EMAIL, timedelta(hours=24), outbox.code("email", EMAIL))
    register(email=None, phone=PHONE)
    return Pending(PHONE_VERIFY, "phone", PHONE, timedelta(minutes=10), outbox.code("sms", PHONE))


def test_expired_code_is_400(client, app, clock, pending):
    clock.advance(seconds=pending.lifetime.total_seconds() + 1)
    assert_error(pending.verify(client, pending.code), 400, "invalid_code")
    assert pending.verified_at(app) is None


def test_code_locks_after_five_wrong_tries(client, app, pending):
    for _ in range(5):
        assert_error(pending.verify(client, wrong(pending.code)), 400, "invalid_code")
    assert_error(pending.verify(client, pending.code), 400, "invalid_code")  # even the right one
    assert pending.verified_at(app) is None


def test_a_locked_code_answers_like_an_address_without_an_account(client, pending):
    """Six wrong tries: the same answers for a real code and for no account at all, or the
    lock would tell which addresses have accounts (the rate limiter is off here)."""
    nobody = {"email": "nobody@example.com", "phone": "+14155550199"}[pending.field]
    guess = wrong(pending.code)
    known = [comparable(pending.verify(client, guess)) for _ in range(6)]
    unknown = [comparable(client.post(pending.path, json={pending.field: nobody, "code": guess}))
               for _ in range(6)]
    assert known == unknown
    assert known[0][0] == 400 and b'"invalid_code"' in known[0][1]
    assert_error(pending.verify(client, pending.code), 400, "invalid_code")  # still locked


def test_wrong_guesses_at_a_used_code_count_and_lock_it(client, pending):
    """The repeat of a used code answers 200, so guessing it must be limited too."""
    assert pending.verify(client, pending.code).status_code == 200
    assert pending.verify(client, pending.code).status_code == 200  # the harmless repeat
    for _ in range(5):
        assert_error(pending.verify(client, wrong(pending.code)), 400, "invalid_code")
    assert_error(pending.verify(client, pending.code), 400, "invalid_code")


def test_the_repeat_of_a_used_code_shows_no_profile(client, app, pending):
    first = pending.verify(client, pending.code)
    assert first.status_code == 200 and first.json["user"][pending.field] == pending.address
    again = pending.verify(client, pending.code)
    assert again.status_code == 200
    assert again.json == {"detail": "Already verified."}
    assert pending.verified_at(app) is not None


def test_a_new_code_after_lockout_works(client, unverified, outbox):
    for _ in range(5):
        client.post(VERIFY, json={"email": EMAIL, "code": wrong(unverified)})
    assert client.post(f"{VERIFY}resend/", json={"email": EMAIL}).status_code == 202
    fresh = outbox.code("email", EMAIL)
    assert client.post(VERIFY, json={"email": EMAIL, "code": fresh}).status_code == 200


@pytest.mark.parametrize("body", [
    {"email": EMAIL, "code": "12345"},
    {"email": EMAIL, "code": "abcdef"},
    {"email": EMAIL},
    {"code": "123456"},
    {"email": "nobody@example.com", "code": "123456"},
    {"email": "not an email", "code": "123456"},
])
def test_bad_code_requests_are_400(client, unverified, body):
    assert_error(client.post(VERIFY, json=body), 400)


def test_code_with_spaces_and_dashes_is_forgiven(client, unverified):
    code = f"{unverified[:3]}-{unverified[3:]} "
    assert client.post(VERIFY, json={"email": EMAIL, "code": code}).status_code == 200


# --- resend ------------------------------------------------------------------------------


def test_resend_answers_the_same_for_every_address(client, register, verified_user, outbox):
    register("pending@example.com")
    answers = [client.post(f"{VERIFY}resend/", json={"email": email})
               for email in ("pending@example.com", EMAIL, "nobody@example.com")]
    assert answers[0].status_code == 202
    assert comparable(answers[0]) == comparable(answers[1]) == comparable(answers[2])
    assert len(outbox.all("email", "pending@example.com")) == 2
    assert len(outbox.all("email", EMAIL)) == 1  # verified: nothing new
    assert outbox.all("email", "nobody@example.com") == []


def test_resend_kills_the_old_code(client, unverified, outbox):
    assert client.post(f"{VERIFY}resend/", json={"email": EMAIL}).status_code == 202
    fresh = outbox.code("email", EMAIL)
    if fresh != unverified:
        assert_error(client.post(VERIFY, json={"email": EMAIL, "code": unverified}), 400)
    assert client.post(VERIFY, json={"email": EMAIL, "code": fresh}).status_code == 200


def test_resend_with_a_bad_address_is_400(client):
    assert_error(client.post(f"{VERIFY}resend/", json={"email": "nope"}), 400, "invalid")


# --- phone -------------------------------------------------------------------------------


@pytest.fixture
def phone_code(register, outbox) -> str:
    register(email=None, phone=PHONE)
    return outbox.code("sms", PHONE)


def test_verify_phone_by_code(client, app, phone_code, outbox):
    response = client.post(PHONE_VERIFY, json={"phone": "(415) 555-0123", "code": phone_code})
    assert response.status_code == 200
    assert response.json["user"]["phone_verified"] is True
    assert stored_user(app, phone=PHONE).phone_verified_at is not None
    assert len(stripe_jobs(outbox)) == 1
    again = client.post(PHONE_VERIFY, json={"phone": PHONE, "code": phone_code})
    assert again.status_code == 200
    assert len(stripe_jobs(outbox)) == 1


def test_an_email_code_does_not_verify_the_phone(client, app, register, outbox):
    register("jane@example.com", phone=PHONE)
    email_code = outbox.code("email", EMAIL)
    if email_code != outbox.code("sms", PHONE):
        assert_error(client.post(PHONE_VERIFY, json={"phone": PHONE, "code": email_code}), 400)
    assert stored_user(app, phone=PHONE).phone_verified_at is None


@pytest.mark.parametrize("body", [
    {"phone": PHONE}, {"code": "123456"}, {"phone": "12", "code": "123456"},
    {"phone": "+14155550199", "code": "123456"},
])
def test_bad_phone_verify_requests_are_400(client, phone_code, body):
    assert_error(client.post(PHONE_VERIFY, json=body), 400)


def test_phone_resend_same_for_every_number_and_old_code_dies(client, phone_code, outbox):
    pending = client.post(f"{PHONE_VERIFY}resend/", json={"phone": PHONE})
    unknown = client.post(f"{PHONE_VERIFY}resend/", json={"phone": "+14155550199"})
    assert pending.status_code == 202
    assert comparable(pending) == comparable(unknown)
    fresh = outbox.code("sms", PHONE)
    assert len(outbox.all("sms", PHONE)) == 2
    assert outbox.all("sms", "+14155550199") == []
    if fresh != phone_code:
        assert_error(client.post(PHONE_VERIFY, json={"phone": PHONE, "code": phone_code}), 400)
    assert client.post(PHONE_VERIFY, json={"phone": PHONE, "code": fresh}).status_code == 200
    verified = client.post(f"{PHONE_VERIFY}resend/", json={"phone": PHONE})
    assert comparable(verified) == comparable(unknown)
    assert len(outbox.all("sms", PHONE)) == 2
