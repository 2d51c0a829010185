"""Messages carry no text a user typed: anyone can register any address with any name,
so a name in a genuine verification (or reset, or invitation) message would let a sender
place a phishing line in mail from this site. Rendered with the real templates."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tests.conftest import PASSWORD, Outbox
from tests.helpers.app import make_user, ports, services

EVIL = "Visit http://evil.example now"
EMAIL = "victim@example.com"
PHONE = "+14155550123"
NEW = "another fine passphrase"


def texts(message: Any) -> list[str]:
    payload = message.payload
    return [payload.get(key) or "" for key in ("subject", "text", "html", "body")]


def assert_clean(outbox: Outbox, *needles: str) -> set[tuple[str, str]]:
    """No queued message contains a needle; returns the (kind, template) pairs seen."""
    messages = outbox.all("email") + outbox.all("sms")
    for message in messages:
        for part in texts(message):
            for needle in needles:
                assert needle not in part, (message.payload["template"], part)
    return {(m.kind, m.payload["template"]) for m in messages}


def test_a_verification_email_does_not_greet_by_the_chosen_name(client, outbox):
    response = client.post("/api/auth/register/", json={
        "email": EMAIL, "password": PASSWORD, "first_name": EVIL, "last_name": EVIL})
    assert response.status_code == 201, response.json
    message = outbox.last("email", EMAIL)
    assert message.payload["template"] == "verify"
    text, html = message.payload["text"], message.payload["html"]
    assert EVIL not in text and EVIL not in html and "evil.example" not in text + html
    assert "Hello," in text and "Hello, confirm" in html
    assert outbox.code("email", EMAIL)  # still a working verification message


def verify_code(outbox: Outbox, kind: str, to: str) -> str:
    message = [m for m in outbox.all(kind, to) if m.payload["template"] == "verify"][-1]
    return re.search(r"\b(\d{6})\b", texts(message)[1] or texts(message)[3]).group(1)


def test_no_message_to_an_unproven_address_carries_the_chosen_name(app, client, outbox):
    register = {"email": EMAIL, "phone": PHONE, "password": PASSWORD,
                "first_name": EVIL, "last_name": EVIL}
    assert client.post("/api/auth/register/", json=register).status_code == 201
    # again (a finish-signup by email and SMS), resets by email and by SMS, before any proof
    assert client.post("/api/auth/register/", json=register).status_code == 201
    for body in ({"email": EMAIL}, {"phone": PHONE}):
        assert client.post("/api/auth/password-reset/", json=body).status_code == 202
    # proven by phone only: the email address still is not; password_changed goes to the
    # proven phone (never to an unproven address beside a proven one)
    assert client.post("/api/auth/phone-verify/", json={
        "phone": PHONE, "code": verify_code(outbox, "sms", PHONE)}).status_code == 200
    with app.app_context():
        with ports(app).uow() as uow:
            user = uow.users.get_by_email(EMAIL)
        assert user is not None and user.first_name == EVIL and user.email_verified_at is None
        services(app).accounts.change_password(user.id, PASSWORD, NEW, NEW,
                                               auth_time=datetime.now(UTC))
    # a verified owner told that someone tried to register the address again (the email,
    # added beside the proven phone, is proven by the owner signed in)
    login = client.post("/api/auth/login/", json={"phone": PHONE, "password": NEW})
    assert client.post("/api/auth/email-verify/", json={
        "email": EMAIL, "code": verify_code(outbox, "email", EMAIL)},
        headers={"Authorization": f"Bearer {login.json['tokens']['access']}"}).status_code == 200
    assert client.post("/api/auth/register/", json=register).status_code == 201

    seen = assert_clean(outbox, EVIL, "evil.example")
    assert seen >= {("email", "verify"), ("sms", "verify"), ("email", "reset"),
                    ("sms", "reset"), ("sms", "password_changed"),
                    ("email", "account_exists"), ("sms", "account_exists"),
                    ("email", "finish_signup"), ("sms", "finish_signup")}


def test_an_invitation_from_a_user_names_no_inviter(app_factory):
    app = app_factory(INVITATIONS_BY_USERS=True)
    client = app.test_client()
    make_user(app, "plain@example.com", first_name=EVIL, last_name=EVIL)
    login = client.post("/api/auth/login/", json={"email": "plain@example.com",
                                                  "password": PASSWORD})
    auth = {"Authorization": f"Bearer {login.json['tokens']['access']}"}
    assert client.post("/api/auth/invitations/", json={"email": "pal@example.com"},
                       headers=auth).status_code == 201
    outbox = Outbox(app)
    message = outbox.last("email", "pal@example.com")
    assert message.payload["template"] == "invite"
    assert "You are invited to join" in message.payload["text"]
    assert_clean(outbox, EVIL, "evil.example", "plain@example.com")
