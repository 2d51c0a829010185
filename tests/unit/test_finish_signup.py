"""A second registration of an address held by an account with nothing verified: the
address's owner finishes signing up by choosing the password (a reset), which proves the
address, so the first registrant's password and sessions die (no account pre-hijacking)."""

from __future__ import annotations

import pytest

from tests.helpers.world import (
    EMAIL,
    PASSWORD,
    PHONE,
    email_code,
    link_token,
    register,
    sms_code,
    verified,
)
from webapp.domain.errors import (
    InvalidCredentials,
    InvalidToken,
    OwnerSignInRequired,
    Unverified,
)
from webapp.domain.model import MessageKind, RefreshFamily

ATTACKER = "the attacker's own passphrase"
VICTIM = "the victim's chosen passphrase"


def stripe_jobs(world):
    return [m for m in world.store.outbox.values() if m.kind == MessageKind.STRIPE_CUSTOMER]


def confirm(world, **how):
    return world.services.resets.confirm(new_password=VICTIM, confirm_password=VICTIM, **how)


def login(world, password, **identifier):
    how = {"email": None, "phone": None, **identifier}
    return world.login(**how, password=password)


def pre_registered(world, **identifier):
    """The attacker's account at the victim's address, with a live refresh family (as if
    it had signed in somehow), then the victim's own registration."""
    how = {"email": None, "phone": None, **identifier}
    register(world, password=ATTACKER, **how)
    attacker = world.user(**identifier)
    world.store.families["attacker"] = RefreshFamily(id="attacker", user_id=attacker.id,
                                                     created_at=world.clock.now())
    register(world, password=VICTIM, **how)
    return attacker


def assert_taken_back(world, attacker, **identifier):
    user = world.user(**identifier)
    assert user.id == attacker.id and user.uniquifier != attacker.uniquifier
    assert user.password_hash == f"fake$v1${VICTIM}"
    assert login(world, VICTIM, **identifier)[0].id == user.id
    with pytest.raises(InvalidCredentials):
        login(world, ATTACKER, **identifier)
    family = world.store.families["attacker"]
    assert not family.is_active and family.revoke_reason == "password_reset"
    assert len(stripe_jobs(world)) == 1
    assert world.audit_kinds().count("user_verified") == 1


def test_the_emailed_code_sets_the_password_and_verifies_the_email(world):
    attacker = pre_registered(world, email=EMAIL)
    message = world.emails(EMAIL)[-1]
    assert message.payload["template"] == "finish_signup"

    user = confirm(world, email=EMAIL, code=email_code(world))

    assert user.email_verified_at is not None and user.phone_verified_at is None
    assert_taken_back(world, attacker, email=EMAIL)
    [job] = stripe_jobs(world)
    assert job.payload == {"user_id": attacker.id}


def test_the_emailed_link_does_the_same(world):
    attacker = pre_registered(world, email=EMAIL)
    confirm(world, token=link_token(world, path="/reset/"))
    assert world.user(email=EMAIL).email_verified_at is not None
    assert_taken_back(world, attacker, email=EMAIL)


def test_the_sms_code_sets_the_password_and_verifies_the_phone(world):
    attacker = pre_registered(world, phone=PHONE)
    assert world.texts(PHONE)[-1].payload["template"] == "finish_signup"

    user = confirm(world, phone="(415) 555-0123", code=sms_code(world))

    assert user.phone_verified_at is not None and user.email_verified_at is None
    assert_taken_back(world, attacker, phone=PHONE)


def test_both_addresses_taken_get_a_message_each_and_each_proves_only_its_own(world):
    register(world, email=EMAIL, phone=PHONE, password=ATTACKER)
    register(world, email=EMAIL, phone=PHONE, password=VICTIM)
    assert world.emails(EMAIL)[-1].payload["template"] == "finish_signup"
    assert world.texts(PHONE)[-1].payload["template"] == "finish_signup"

    confirm(world, phone=PHONE, code=sms_code(world))

    user = world.user(email=EMAIL)
    assert user.phone_verified_at is not None and user.email_verified_at is None
    assert len(stripe_jobs(world)) == 1


def test_a_plain_reset_of_a_pending_account_verifies_the_address_too(world):
    register(world)
    with pytest.raises(Unverified):
        login(world, PASSWORD, email=EMAIL)
    world.services.resets.request(email=EMAIL, phone=None)
    assert world.emails(EMAIL)[-1].payload["template"] == "reset"

    confirm(world, email=EMAIL, code=email_code(world))

    assert world.user(email=EMAIL).email_verified_at is not None
    assert login(world, VICTIM, email=EMAIL)
    assert len(stripe_jobs(world)) == 1


def test_a_reset_of_a_verified_address_queues_no_second_customer(world):
    before = verified(world).email_verified_at
    assert len(stripe_jobs(world)) == 1
    world.clock.advance(minutes=5)
    world.services.resets.request(email=EMAIL, phone=None)

    confirm(world, token=link_token(world, path="/reset/"))

    assert world.user(email=EMAIL).email_verified_at == before
    assert len(stripe_jobs(world)) == 1
    assert world.audit_kinds().count("user_verified") == 1


def test_a_code_for_an_address_the_account_no_longer_has_proves_nothing(world):
    register(world)
    world.services.resets.request(email=EMAIL, phone=None)
    code = email_code(world)
    user = world.user(email=EMAIL)
    user.email = "other@example.com"  # changed since (say, by staff)
    world.store.users[user.id] = user

    before = world.user(email="other@example.com").password_hash
    with pytest.raises(InvalidToken):  # it resets nothing either
        confirm(world, email="other@example.com", code=code)

    assert world.user(email="other@example.com").email_verified_at is None
    assert world.user(email="other@example.com").password_hash == before
    assert stripe_jobs(world) == []


def test_after_the_old_verification_is_used_the_finish_signup_still_wins(world):
    """The residual risk (README): the first registration's verification still works, under
    the first password. The finish-signup code sent later still takes the account back."""
    attacker = pre_registered(world, email=EMAIL)
    first_verify = [m for m in world.emails(EMAIL) if m.payload["template"] == "verify"][0]
    verify_code = world.field_of(first_verify, "code")
    assert world.services.verification.verify_email_code(EMAIL, verify_code).is_verified

    confirm(world, email=EMAIL, code=email_code(world))

    assert_taken_back(world, attacker, email=EMAIL)


@pytest.mark.parametrize("proven", ["email", "phone"])
def test_the_first_registrants_other_address_stays_but_gives_them_no_way_back(world, proven):
    """The attacker registers the victim's email beside their own phone (or the reverse).
    When the victim finishes signing up, that address stays on the account (an honest
    first registrant's second address is kept), but the account now has a proven address
    and the attacker no session: their right code is refused (sign_in_required), so the
    address never becomes verified, never signs in and never resets the password."""
    theirs = {"email": "mallory@example.com", "phone": "+14155550199"}
    other = "phone" if proven == "email" else "email"
    mine = {proven: EMAIL if proven == "email" else PHONE}
    register(world, password=ATTACKER, **mine, **{other: theirs[other]})
    register(world, password=VICTIM, **{"email": None, "phone": None, **mine})
    code = email_code(world) if proven == "email" else sms_code(world)
    confirm(world, **mine, code=code)
    user = world.user(**mine)
    assert getattr(user, other) == theirs[other]

    verification = world.services.verification
    if other == "phone":
        verification.resend_phone(theirs["phone"])
        with pytest.raises(OwnerSignInRequired):
            verification.verify_phone_code(theirs["phone"], sms_code(world, theirs["phone"]))
    else:
        verification.resend_email(theirs["email"])
        with pytest.raises(OwnerSignInRequired):
            verification.verify_email_code(theirs["email"], email_code(world, theirs["email"]))

    assert world.user(**mine).password_hash == f"fake$v1${VICTIM}"
    assert getattr(world.user(**mine), f"{other}_verified_at") is None
    with pytest.raises((InvalidCredentials, Unverified)):
        login(world, ATTACKER, **{other: theirs[other]})
    sent = len(world.store.outbox)
    world.services.resets.request(**{"email": None, "phone": None, other: theirs[other]})
    assert len(world.store.outbox) == sent  # no reset reaches the attacker's address


@pytest.mark.parametrize("channel", ["email", "phone"])
def test_a_resend_after_the_finish_signup_sends_it_again_not_a_verification(world, channel):
    """The sign-up page goes on to /verify, whose resend button the victim may press: a
    verification there would prove the account under the attacker's password (the
    attacker signs in as soon as it is clicked). It sends the finish-signup again."""
    identifier = EMAIL if channel == "email" else PHONE
    attacker = pre_registered(world, **{channel: identifier})
    sent = world.emails if channel == "email" else world.texts
    before = len(sent(identifier))

    if channel == "email":
        world.services.verification.resend_email(EMAIL)
    else:
        world.services.verification.resend_phone(PHONE)

    assert [m.payload["template"] for m in sent(identifier)[before:]] == ["finish_signup"]
    how = {"email": None, "phone": None, channel: identifier}
    code = email_code(world) if channel == "email" else sms_code(world)
    confirm(world, **{**how, "code": code})
    assert_taken_back(world, attacker, **{channel: identifier})


def test_a_resend_for_an_account_that_never_met_a_second_sign_up_still_verifies(world):
    register(world, email=EMAIL, phone=None, password=PASSWORD)
    world.services.verification.resend_email(EMAIL)
    assert [m.payload["template"] for m in world.emails(EMAIL)] == ["verify", "verify"]
