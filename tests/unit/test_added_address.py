"""An address added beside a proven one is proven only by the account's owner, signed in.

The report: someone registers with their email and a mistyped phone, verifies the email;
the stranger who owns the number resends the SMS code, verifies the phone, resets the
password by SMS and owns the account. A right code proves possession of the address,
nothing about the account: once the account has a proven address, the other one needs
the owner's ``actor_id``.
"""

from __future__ import annotations

import pytest

from tests.helpers.world import (
    EMAIL,
    PHONE,
    email_code,
    link_token,
    register,
    sms_code,
    verified,
    wrong,
)
from webapp.application.common import INVALID_CODE
from webapp.domain.errors import InvalidToken, OwnerSignInRequired

STRANGER = "+14155550199"  # the number the victim meant to type was another one


def owner_with_mistyped_phone(world):
    """The victim's account: email verified, a phone number that is a stranger's."""
    return verified(world, email=EMAIL, phone=STRANGER)


def stranger_gets_code(world) -> str:
    world.services.verification.resend_phone(STRANGER)
    return sms_code(world, STRANGER)


def refused(verify, *args, **kwargs) -> OwnerSignInRequired:  # noqa: ANN001
    with pytest.raises(OwnerSignInRequired) as caught:
        verify(*args, **kwargs)
    return caught.value


def test_the_mistyped_phone_chain_is_refused_at_the_code(world):
    owner = owner_with_mistyped_phone(world)
    code = stranger_gets_code(world)

    exc = refused(world.services.verification.verify_phone_code, STRANGER, code)

    assert exc.code == "sign_in_required"
    assert world.user(email=EMAIL).phone_verified_at is None
    [event] = [e for e in world.store.audit if e.kind == "authz_fail"]
    assert event.user_id == owner.id and event.actor_id is None
    assert event.data["action"] == "verify_added_address"
    # ...and so the SMS reset, the last step of the takeover, sends nothing.
    sent = len(world.texts(STRANGER))
    world.services.resets.request(email=None, phone=STRANGER)
    assert len(world.texts(STRANGER)) == sent


def test_the_owner_signed_in_verifies_the_added_phone(world):
    owner = owner_with_mistyped_phone(world)
    code = stranger_gets_code(world)  # here the "stranger" is the owner's own second phone

    user = world.services.verification.verify_phone_code(STRANGER, code, actor_id=owner.id)

    assert user.phone_verified_at is not None
    assert world.user(phone=STRANGER).phone_verified_at is not None


def test_another_signed_in_user_is_refused_too(world):
    owner = owner_with_mistyped_phone(world)
    other = verified(world, email="mallory@example.com")
    code = stranger_gets_code(world)

    refused(world.services.verification.verify_phone_code, STRANGER, code, actor_id=other.id)

    assert world.user(email=EMAIL).phone_verified_at is None
    [event] = [e for e in world.store.audit if e.kind == "authz_fail"]
    assert event.user_id == owner.id and event.actor_id == other.id


def test_a_refusal_spends_nothing_and_counts_no_try(world):
    owner = owner_with_mistyped_phone(world)
    code = stranger_gets_code(world)
    verify = world.services.verification.verify_phone_code
    for _ in range(6):  # more than the wrong tries a code allows
        refused(verify, STRANGER, code)
    record = [c for c in world.store.codes.values() if c.destination == STRANGER][-1]
    assert record.attempts == 0 and record.consumed_at is None

    assert verify(STRANGER, code, actor_id=owner.id).phone_verified_at is not None


def test_wrong_codes_still_count_and_answer_as_before(world):
    """The owner check comes after the code check: a wrong code tells nothing new."""
    owner = owner_with_mistyped_phone(world)
    code = stranger_gets_code(world)
    verify = world.services.verification.verify_phone_code
    for _ in range(5):
        with pytest.raises(InvalidToken) as caught:
            verify(STRANGER, wrong(code))
        assert (caught.value.code, caught.value.detail) == ("invalid_code", INVALID_CODE)
    with pytest.raises(InvalidToken):  # locked: even the right code, even for the owner
        verify(STRANGER, code, actor_id=owner.id)
    assert "authz_fail" not in world.audit_kinds()


def test_an_expired_right_code_answers_invalid_not_sign_in(world):
    owner_with_mistyped_phone(world)
    code = stranger_gets_code(world)
    world.clock.advance(minutes=10)
    with pytest.raises(InvalidToken):
        world.services.verification.verify_phone_code(STRANGER, code)


def test_the_mistyped_email_beside_a_verified_phone_by_code_and_by_link(world):
    owner = verified(world, email=None, phone=PHONE)
    # The owner added an email later (or typed it at registration): a stranger's inbox.
    register_email = "stranger@example.com"
    world.store.users[owner.id].email = register_email
    world.services.verification.resend_email(register_email)
    code, token = email_code(world, register_email), link_token(world, register_email)
    verification = world.services.verification

    refused(verification.verify_email_code, register_email, code)
    refused(verification.verify_email_token, token)
    assert world.user(phone=PHONE).email_verified_at is None

    assert verification.verify_email_token(token, actor_id=owner.id).email_verified_at
    assert world.user(phone=PHONE).email_verified_at is not None


def test_a_pre_hijackers_phone_keeps_no_foot_in_the_account(world):
    """The attacker registers the victim's email beside their own phone and verifies the
    phone; a victim who clicks the unsolicited link does not join the attacker's account."""
    register(world, email=EMAIL, phone=STRANGER)
    world.services.verification.verify_phone_code(STRANGER, sms_code(world, STRANGER))

    refused(world.services.verification.verify_email_token, link_token(world))

    assert world.user(email=EMAIL).email_verified_at is None


@pytest.mark.parametrize("actor", ["none", "someone"])
def test_a_first_verification_needs_no_sign_in(world, actor):
    someone = verified(world, email="mallory@example.com").id if actor == "someone" else None
    register(world, email=EMAIL, phone=PHONE)

    user = world.services.verification.verify_phone_code(PHONE, sms_code(world),
                                                         actor_id=someone)

    assert user.phone_verified_at is not None and user.email_verified_at is None
    assert "authz_fail" not in world.audit_kinds()


def test_a_verified_link_clicked_again_is_still_harmless(world):
    register(world, email=EMAIL, phone=PHONE)
    token = link_token(world)
    assert world.services.verification.verify_email_token(token).is_verified
    assert world.services.verification.verify_email_token(token).email_verified_at
