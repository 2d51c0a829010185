"""VerificationService: emailed link and code, SMS code, resend, and the Stripe job."""

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
from webapp.domain.errors import InvalidToken, ValidationFailed
from webapp.domain.model import MessageKind


def stripe_jobs(world):
    return [m for m in world.store.outbox.values() if m.kind == MessageKind.STRIPE_CUSTOMER]


# --- sending -----------------------------------------------------------------------------


def test_codes_are_stored_only_as_keyed_hashes(world):
    register(world, email=EMAIL, phone=PHONE)
    codes = {email_code(world), sms_code(world)}
    stored = list(world.store.codes.values())
    assert len(stored) == 2
    for record in stored:
        assert record.code_hash not in codes
        assert all(code not in record.code_hash for code in codes)
        assert world.ports.codes.matches(
            email_code(world) if record.destination == EMAIL else sms_code(world),
            record.code_hash)


def test_email_code_lives_24_hours(world):
    register(world)
    code = email_code(world)
    world.clock.advance(hours=24)
    with pytest.raises(InvalidToken):
        world.services.verification.verify_email_code(EMAIL, code)


def test_email_code_works_just_before_it_expires(world):
    register(world)
    world.clock.advance(hours=23, minutes=59)
    assert world.services.verification.verify_email_code(EMAIL, email_code(world)).is_verified


@pytest.mark.parametrize("seconds,ok", [(599, True), (600, False)])
def test_sms_code_lives_10_minutes(world, seconds, ok):
    register(world, email=None, phone=PHONE)
    world.clock.advance(seconds=seconds)
    if ok:
        assert world.services.verification.verify_phone_code(PHONE, sms_code(world)).is_verified
    else:
        with pytest.raises(InvalidToken):
            world.services.verification.verify_phone_code(PHONE, sms_code(world))


def test_sms_code_verifies_the_phone(world):
    register(world, email=None, phone="(415) 555-0123")
    user = world.services.verification.verify_phone_code("+1 415 555 0123", sms_code(world))
    assert user.phone_verified_at == world.clock.now() and user.email_verified_at is None
    assert world.user(phone=PHONE).is_verified


def refusal(verify, *args) -> tuple[str, str]:  # noqa: ANN001
    """The (code, detail) of the InvalidToken that ``verify(*args)`` raises."""
    with pytest.raises(InvalidToken) as caught:
        verify(*args)
    return caught.value.code, caught.value.detail


def test_five_wrong_tries_lock_the_code(world):
    register(world)
    code = email_code(world)
    verify = world.services.verification.verify_email_code
    for _ in range(5):
        assert refusal(verify, EMAIL, wrong(code)) == ("invalid_code", INVALID_CODE)
    assert refusal(verify, EMAIL, code) == ("invalid_code", INVALID_CODE)  # even the right one
    assert not world.user(email=EMAIL).is_verified


def test_a_locked_code_answers_like_a_wrong_code_and_an_unknown_account(world):
    """Otherwise five wrong tries would tell whether an address has an account."""
    register(world, email=EMAIL, phone=PHONE)
    verify_email = world.services.verification.verify_email_code
    verify_phone = world.services.verification.verify_phone_code
    unknown = [refusal(verify_email, "nobody@example.com", "000001") for _ in range(6)]
    known = [refusal(verify_email, EMAIL, wrong(email_code(world))) for _ in range(6)]
    by_sms = [refusal(verify_phone, PHONE, wrong(sms_code(world))) for _ in range(6)]
    no_sms = [refusal(verify_phone, "+14155550199", "000001") for _ in range(6)]
    assert known == unknown == by_sms == no_sms == [("invalid_code", INVALID_CODE)] * 6
    assert all(c.attempts == 5 for c in world.store.codes.values())  # the lock is still there


@pytest.mark.parametrize("channel", ["email", "phone"])
def test_wrong_tries_on_a_used_code_count_and_lock_it(world, channel):
    """A used code is no oracle: guessing it is limited like guessing a live one."""
    if channel == "email":
        register(world)
        verify, address, code = world.services.verification.verify_email_code, EMAIL, \
            email_code(world)
    else:
        register(world, email=None, phone=PHONE)
        verify, address, code = world.services.verification.verify_phone_code, PHONE, \
            sms_code(world)
    assert verify(address, code) is not None
    assert verify(address, code) is None  # the harmless repeat
    for _ in range(5):
        assert refusal(verify, address, wrong(code)) == ("invalid_code", INVALID_CODE)
    [record] = world.store.codes.values()
    assert record.attempts == 5
    assert refusal(verify, address, code) == ("invalid_code", INVALID_CODE)


def test_wrong_tries_are_committed_even_though_the_call_fails(world):
    register(world)
    with pytest.raises(InvalidToken):
        world.services.verification.verify_email_code(EMAIL, wrong(email_code(world)))
    [record] = world.store.codes.values()
    assert record.attempts == 1


def test_a_resend_kills_the_old_code(world):
    register(world)
    old = email_code(world)
    world.services.verification.resend_email("Jane@Example.com")
    new = email_code(world)
    assert len(world.emails(EMAIL)) == 2
    if old != new:  # one chance in a million that they are equal
        with pytest.raises(InvalidToken):
            world.services.verification.verify_email_code(EMAIL, old)
    assert world.services.verification.verify_email_code(EMAIL, new).is_verified


def test_a_resend_kills_the_old_sms_code(world):
    register(world, email=None, phone=PHONE)
    old = sms_code(world)
    world.services.verification.resend_phone("(415) 555-0123")
    assert len(world.texts(PHONE)) == 2
    if old != sms_code(world):
        with pytest.raises(InvalidToken):
            world.services.verification.verify_phone_code(PHONE, old)


def test_resend_queues_nothing_for_unknown_or_verified_addresses(world):
    verified(world)
    register(world, email=None, phone=PHONE)
    world.services.verification.verify_phone_code(PHONE, sms_code(world))
    before = len(world.store.outbox)

    assert world.services.verification.resend_email("nobody@example.com") is None
    assert world.services.verification.resend_email(EMAIL) is None
    assert world.services.verification.resend_phone("+14155550199") is None
    assert world.services.verification.resend_phone(PHONE) is None

    assert len(world.store.outbox) == before


def test_codes_accept_spaces_and_dashes_but_not_other_shapes(world):
    register(world)
    code = email_code(world)
    with pytest.raises(ValidationFailed):
        world.services.verification.verify_email_code(EMAIL, "12345")
    with pytest.raises(ValidationFailed):
        world.services.verification.verify_email_code(EMAIL, "abcdef")
    spaced = f"{code[:3]} {code[3:]}"
    assert world.services.verification.verify_email_code(EMAIL, spaced).is_verified


def test_a_code_for_an_unknown_address_is_just_invalid(world):
    with pytest.raises(InvalidToken):
        world.services.verification.verify_email_code("ghost@example.com", "123456")


# --- the link ----------------------------------------------------------------------------


def test_the_link_verifies_the_email(world):
    register(world)
    user = world.services.verification.verify_email_token(link_token(world))
    assert user.email_verified_at == world.clock.now()
    assert world.user(email=EMAIL).is_verified
    assert "user_verified" in world.audit_kinds()


def test_the_link_is_bound_to_the_address(world):
    register(world)
    token = link_token(world)
    user = world.user(email=EMAIL)
    user.email = "new@example.com"  # the user changed address after the email was sent
    world.store.users[user.id] = user
    with pytest.raises(InvalidToken):
        world.services.verification.verify_email_token(token)
    assert not world.user(email="new@example.com").is_verified


def test_a_code_is_bound_to_the_address_it_was_sent_to(world):
    # Jane mistyped her phone at sign-up; its sign-up code went to a stranger. She proved
    # her email and moved the phone to her real number. The stranger's code, sent with
    # her new number, must be refused like any wrong code, not answer with her profile.
    from webapp.domain.values import Channel

    register(world, email=EMAIL, phone=PHONE)
    strangers = sms_code(world, PHONE)
    user = world.services.verification.verify_email_code(EMAIL, email_code(world))
    mine = "+14155550199"
    world.services.address_changes.request(user.id, Channel.PHONE, mine, world.clock.now())
    world.services.address_changes.confirm(user.id, Channel.PHONE,
                                           code=sms_code(world, mine))
    with pytest.raises(InvalidToken):
        world.services.verification.verify_phone_code(mine, strangers)


def test_the_link_expires_with_the_email_code(world):
    register(world)
    token = link_token(world)
    world.clock.advance(hours=24, seconds=1)
    with pytest.raises(InvalidToken):
        world.services.verification.verify_email_token(token)


def test_a_reset_token_does_not_verify(world):
    register(world)
    world.services.resets.request(email=EMAIL, phone=None)
    reset_token = link_token(world, path="/reset/")
    with pytest.raises(InvalidToken):
        world.services.verification.verify_email_token(reset_token)
    assert not world.user(email=EMAIL).is_verified


def test_a_deactivated_user_cannot_verify(world):
    register(world)
    user = world.user(email=EMAIL)
    user.is_active = False
    world.store.users[user.id] = user
    with pytest.raises(InvalidToken):
        world.services.verification.verify_email_token(link_token(world))
    with pytest.raises(InvalidToken):
        world.services.verification.verify_email_code(EMAIL, email_code(world))


# --- verifying twice and the Stripe job --------------------------------------------------


def test_verifying_twice_is_harmless(world):
    register(world)
    code, token = email_code(world), link_token(world)
    first = world.services.verification.verify_email_code(EMAIL, code)
    world.clock.advance(minutes=5)
    again = world.services.verification.verify_email_code(EMAIL, code)
    by_link = world.services.verification.verify_email_token(token)
    assert again is None  # the repeat shows no user: the code may be old or guessed
    assert first.email_verified_at == by_link.email_verified_at
    assert world.user(email=EMAIL).email_verified_at == first.email_verified_at
    assert world.audit_kinds().count("user_verified") == 1
    assert len(stripe_jobs(world)) == 1


def test_first_verification_queues_exactly_one_stripe_customer_job(world):
    register(world, email=EMAIL, phone=PHONE)
    user = world.services.verification.verify_email_code(EMAIL, email_code(world))
    [job] = stripe_jobs(world)
    assert job.payload == {"user_id": user.id}
    assert job.idempotency_key == f"customer-create-{user.id}"
    assert job.user_id == user.id

    world.services.verification.verify_phone_code(PHONE, sms_code(world),  # second channel
                                                  actor_id=user.id)
    assert len(stripe_jobs(world)) == 1
    assert world.user(email=EMAIL).phone_verified_at is not None


def test_phone_first_also_queues_the_stripe_job_once(world):
    register(world, email=EMAIL, phone=PHONE)
    user = world.services.verification.verify_phone_code(PHONE, sms_code(world))
    world.services.verification.verify_email_token(link_token(world), actor_id=user.id)
    assert len(stripe_jobs(world)) == 1


def test_no_stripe_job_for_a_user_who_already_has_a_customer(world):
    register(world)
    user = world.user(email=EMAIL)
    user.stripe_customer_id = "cus_existing"
    world.store.users[user.id] = user
    world.services.verification.verify_email_code(EMAIL, email_code(world))
    assert stripe_jobs(world) == []


def test_codes_typed_with_other_digit_forms_count_as_the_same_digits(world):
    """A Japanese IME types full-width digits, an Arabic keyboard Arabic-Indic ones."""
    register(world, email=EMAIL, phone=PHONE)
    full_width = "".join(chr(0xFF10 + int(d)) for d in email_code(world))
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in sms_code(world))
    user = world.services.verification.verify_email_code(EMAIL, full_width)
    assert user.is_verified
    assert world.services.verification.verify_phone_code(PHONE, arabic_indic,
                                                         actor_id=user.id).is_verified


def test_digit_like_characters_that_are_not_digits_are_refused_uncounted(world):
    register(world)
    with pytest.raises(ValidationFailed):
        world.services.verification.verify_email_code(EMAIL, "12345\u00b2")  # superscript 2
    assert all(c.attempts == 0 for c in world.store.codes.values())
