"""PasswordResetService: request, check and confirm by link or by code."""

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
    wrong,
)
from webapp.application.common import INVALID_CODE
from webapp.domain.errors import InvalidToken, ValidationFailed

NEW = "a brand new passphrase"


def reset_link(world, to=EMAIL):
    return link_token(world, to, path="/reset/")


def confirm(world, password=NEW, confirm_password=None, **how):
    return world.services.resets.confirm(
        new_password=password, confirm_password=confirm_password or password, **how)


def request_by_email(world, email=EMAIL):
    world.services.resets.request(email=email, phone=None)


# --- request -----------------------------------------------------------------------------


def test_by_email_one_message_with_link_and_code(world):
    verified(world)
    before = len(world.emails(EMAIL))
    request_by_email(world, "Jane@EXAMPLE.com")
    [message] = world.emails(EMAIL)[before:]
    assert message.payload["template"] == "reset"
    assert world.field_of(message, "link").startswith("http://localhost:5000/reset/")
    assert len(world.field_of(message, "code")) == 6
    assert world.field_of(message, "minutes") == "60"
    assert world.audit_kinds()[-1] == "authn_password_reset_requested"


def test_by_phone_an_sms_code_valid_10_minutes(world):
    verified(world, email=None, phone=PHONE)
    world.services.resets.request(email=None, phone="(415) 555-0123")
    message = world.texts(PHONE)[-1]
    assert message.payload["template"] == "reset"
    assert world.field_of(message, "minutes") == "10"
    world.clock.advance(minutes=10)
    with pytest.raises(InvalidToken):
        confirm(world, phone=PHONE, code=sms_code(world))


def test_unknown_or_deactivated_addresses_get_the_same_answer_and_nothing(world):
    verified(world)
    user = world.user(email=EMAIL)
    user.is_active = False
    world.store.users[user.id] = user
    before = set(world.store.outbox)

    assert world.services.resets.request(email="ghost@example.com", phone=None) is None
    assert world.services.resets.request(email=EMAIL, phone=None) is None
    assert world.services.resets.request(email=None, phone="+14155550199") is None

    assert set(world.store.outbox) == before  # nothing queued (the requests are audited)
    assert world.audit_kinds()[-3:] == ["authn_password_reset_requested"] * 3
    assert all(event.user_id is None for event in world.store.audit[-3:])


def test_an_unverified_account_can_reset_too(world):
    register(world)
    request_by_email(world)
    confirm(world, token=reset_link(world))
    assert world.user(email=EMAIL).password_hash == f"fake$v1${NEW}"


def test_an_unverified_address_beside_a_verified_one_gets_nothing(world):
    # Jane verified her email but mistyped her phone: whoever has that number must not
    # be able to reset her password with it. The answer is the usual one; nothing is sent.
    verified(world, email=EMAIL, phone=PHONE)
    before = set(world.store.outbox)
    assert world.services.resets.request(email=None, phone=PHONE) is None
    assert set(world.store.outbox) == before
    assert world.store.audit[-1].user_id is None
    with pytest.raises(InvalidToken):  # nor can a code be redeemed through it
        world.services.resets.check(phone=PHONE, code="123456")
    request_by_email(world)  # the verified email still works
    assert reset_link(world)


def test_a_link_sent_before_the_other_address_was_proven_resets_nothing(world):
    # Jane signed up with her phone and a mistyped email. While nothing was proven, the
    # mistyped mailbox's owner asked for a reset; Jane then proved her phone. The link
    # (her password unchanged, so its fingerprint still matches) must die with the
    # address's right to reset: else it takes the account over and "proves" the email.
    register(world, email=EMAIL, phone=PHONE)
    request_by_email(world)
    token = reset_link(world)
    world.services.verification.verify_phone_code(PHONE, sms_code(world))
    with pytest.raises(InvalidToken):
        world.services.resets.check(token=token)
    with pytest.raises(InvalidToken):
        confirm(world, token=token)
    user = world.user(phone=PHONE)
    assert user.password_hash == f"fake$v1${PASSWORD}" and user.email_verified_at is None


def test_staff_resets_go_to_a_verified_address(world):
    verified(world, email=EMAIL, phone=PHONE)
    user = world.user(email=EMAIL)
    user.email_verified_at, user.phone_verified_at = None, world.clock.now()
    world.store.users[user.id] = user
    emails, texts = len(world.emails(EMAIL)), len(world.texts(PHONE))
    world.services.admin.act(None, user.id, "send_reset")
    assert len(world.texts(PHONE)) == texts + 1  # the verified phone
    assert len(world.emails(EMAIL)) == emails  # not the unverified email


# --- the link ----------------------------------------------------------------------------


def test_the_link_resets_once(world):
    verified(world)
    request_by_email(world)
    token = reset_link(world)
    assert world.services.resets.check(token=token).email == EMAIL

    user = confirm(world, token=token)

    assert user.password_hash == f"fake$v1${NEW}"
    assert world.user(email=EMAIL).password_hash == f"fake$v1${NEW}"
    with pytest.raises(InvalidToken):
        confirm(world, "yet another passphrase", token=token)
    with pytest.raises(InvalidToken):
        world.services.resets.check(token=token)


def test_the_link_dies_when_the_password_changes_another_way(world):
    user = verified(world)
    request_by_email(world)
    token = reset_link(world)
    world.services.accounts.change_password(user.id, PASSWORD, NEW, NEW,
                                            auth_time=world.clock.now())
    with pytest.raises(InvalidToken):
        world.services.resets.check(token=token)


def test_the_link_expires_after_an_hour(world):
    verified(world)
    request_by_email(world)
    world.clock.advance(hours=1, seconds=1)
    with pytest.raises(InvalidToken):
        confirm(world, token=reset_link(world))


def test_a_verification_link_cannot_reset(world):
    register(world)
    verify_token = link_token(world)  # the registration email's link
    with pytest.raises(InvalidToken):
        world.services.resets.check(token=verify_token)
    with pytest.raises(InvalidToken):
        confirm(world, token=verify_token)
    assert world.user(email=EMAIL).password_hash == f"fake$v1${PASSWORD}"


def test_a_verification_code_cannot_reset(world):
    register(world)
    with pytest.raises(InvalidToken):
        confirm(world, email=EMAIL, code=email_code(world))


# --- codes -------------------------------------------------------------------------------


def test_the_email_code_resets_once(world):
    verified(world)
    request_by_email(world)
    code = email_code(world)
    assert world.services.resets.check(email=EMAIL, code=code).email == EMAIL
    assert world.services.resets.check(email=EMAIL, code=code).email == EMAIL  # not spent
    confirm(world, email=EMAIL, code=code)
    with pytest.raises(InvalidToken):
        confirm(world, "yet another passphrase", email=EMAIL, code=code)


def test_the_sms_code_resets_once(world):
    verified(world, email=None, phone=PHONE)
    world.services.resets.request(email=None, phone=PHONE)
    code = sms_code(world)
    confirm(world, phone="(415) 555-0123", code=code)
    assert world.user(phone=PHONE).password_hash == f"fake$v1${NEW}"
    with pytest.raises(InvalidToken):
        confirm(world, "yet another passphrase", phone=PHONE, code=code)


def test_every_reset_code_dies_with_the_reset(world):
    """An emailed code and a later SMS code: using either spends both."""
    verified(world, email=EMAIL, phone=PHONE)
    request_by_email(world)
    emailed = email_code(world)
    world.services.resets.request(email=None, phone=PHONE)
    texted = sms_code(world)

    confirm(world, email=EMAIL, code=emailed)

    with pytest.raises(InvalidToken):
        confirm(world, "yet another passphrase", email=EMAIL, code=emailed)
    with pytest.raises(InvalidToken):
        confirm(world, "yet another passphrase", phone=PHONE, code=texted)
    assert world.user(email=EMAIL).password_hash == f"fake$v1${NEW}"


def test_a_code_dies_when_the_password_changes_another_way(world):
    user = verified(world)
    request_by_email(world)
    code = email_code(world)
    world.clock.advance(minutes=1)
    world.services.accounts.change_password(user.id, PASSWORD, NEW, NEW,
                                            auth_time=world.clock.now())
    with pytest.raises(InvalidToken):
        confirm(world, "yet another passphrase", email=EMAIL, code=code)


def test_the_code_expires_after_an_hour(world):
    verified(world)
    request_by_email(world)
    world.clock.advance(hours=1)
    with pytest.raises(InvalidToken):
        world.services.resets.check(email=EMAIL, code=email_code(world))


def test_five_wrong_codes_lock_it(world):
    verified(world)
    request_by_email(world)
    code = email_code(world)
    for _ in range(4):
        with pytest.raises(InvalidToken):
            world.services.resets.check(email=EMAIL, code=wrong(code))
    assert refused(lambda: confirm(world, email=EMAIL, code=wrong(code))) == INVALID
    assert refused(lambda: confirm(world, email=EMAIL, code=code)) == INVALID  # even the right
    assert world.user(email=EMAIL).password_hash == f"fake$v1${PASSWORD}"


INVALID = ("invalid_code", INVALID_CODE)


def refused(call) -> tuple[str, str]:  # noqa: ANN001
    with pytest.raises(InvalidToken) as caught:
        call()
    return caught.value.code, caught.value.detail


def test_a_locked_code_answers_like_an_unknown_account(world):
    """Otherwise five wrong tries would tell whether an address has an account."""
    verified(world)
    verified(world, email=None, phone=PHONE)
    check = world.services.resets.check
    for how in ({"email": EMAIL}, {"phone": PHONE}, {"email": "nobody@example.com"},
                {"phone": "+14155550199"}):
        world.services.resets.request(email=how.get("email"), phone=how.get("phone"))
    email, sms = email_code(world), sms_code(world)
    answers = {
        "email": [refused(lambda: check(email=EMAIL, code=wrong(email))) for _ in range(6)],
        "phone": [refused(lambda: check(phone=PHONE, code=wrong(sms))) for _ in range(6)],
        "no email": [refused(lambda: check(email="nobody@example.com", code=wrong(email)))
                     for _ in range(6)],
        "no phone": [refused(lambda: check(phone="+14155550199", code=wrong(sms)))
                     for _ in range(6)],
    }
    assert answers == {name: [INVALID] * 6 for name in answers}
    resets = [c for c in world.store.codes.values() if c.purpose.startswith("reset")]
    assert [c.attempts for c in resets] == [5, 5]  # the lock is still there
    assert refused(lambda: check(email=EMAIL, code=email)) == INVALID


def test_every_refused_code_writes_once_known_or_not(world):
    """A wrong try at an account's code writes its count; a code with nothing to count (no
    account, no code, or a locked one) writes an audit row instead. One write either way:
    on PostgreSQL a commit that wrote must flush, so a refusal that wrote nothing would
    answer sooner and tell that the address has no account. And staff see the tries."""
    verified(world)
    request_by_email(world)
    code = email_code(world)
    before = len(world.store.audit)
    refused(lambda: world.services.resets.check(email="nobody@example.com", code=code))
    assert world.audit_kinds()[before:] == ["authn_code_fail"]
    assert world.store.audit[-1].user_id is None
    assert world.store.audit[-1].data == {"purpose": "reset_email"}
    for _ in range(5):  # counted on the code, no audit row
        refused(lambda: world.services.resets.check(email=EMAIL, code=wrong(code)))
    assert world.audit_kinds()[before + 1:] == []
    refused(lambda: world.services.resets.check(email=EMAIL, code=wrong(code)))  # locked
    assert world.audit_kinds()[before + 1:] == ["authn_code_fail"]
    assert world.store.audit[-1].user_id == world.user(email=EMAIL).id


def test_wrong_tries_on_a_used_code_count_and_lock_it(world):
    verified(world)
    request_by_email(world)
    code = email_code(world)
    confirm(world, email=EMAIL, code=code)
    for _ in range(5):
        assert refused(lambda: world.services.resets.check(email=EMAIL, code=wrong(code))
                       ) == INVALID
    [record] = [c for c in world.store.codes.values() if c.consumed_at and c.attempts]
    assert record.attempts == 5
    request_by_email(world)  # a new code works again
    confirm(world, "yet another passphrase", email=EMAIL, code=email_code(world))


def test_a_request_kills_the_previous_code(world):
    verified(world)
    request_by_email(world)
    old = email_code(world)
    request_by_email(world)
    if old != email_code(world):
        with pytest.raises(InvalidToken):
            world.services.resets.check(email=EMAIL, code=old)
    world.services.resets.check(email=EMAIL, code=email_code(world))


def test_neither_token_nor_code_is_a_validation_error(world):
    with pytest.raises(ValidationFailed) as caught:
        confirm(world)
    assert list(caught.value.errors) == ["token"]
    with pytest.raises(ValidationFailed) as caught:  # an address without its code
        confirm(world, email=EMAIL)
    assert caught.value.errors == {"code": ["Enter the 6-digit code."]}


# --- confirm -----------------------------------------------------------------------------


def test_mismatch_is_refused_and_costs_no_try(world):
    verified(world)
    request_by_email(world)
    with pytest.raises(ValidationFailed) as caught:
        confirm(world, NEW, NEW + "!", email=EMAIL, code=email_code(world))
    assert list(caught.value.errors) == ["confirm_password"]
    assert all(c.attempts == 0 for c in world.store.codes.values())


def test_a_weak_password_leaves_the_code_unspent(world):
    verified(world)
    request_by_email(world)
    code = email_code(world)
    for weak in ("password1", "short", EMAIL):
        with pytest.raises(ValidationFailed) as caught:
            confirm(world, weak, email=EMAIL, code=code)
        assert list(caught.value.errors) == ["new_password"]
    confirm(world, email=EMAIL, code=code)
    assert world.user(email=EMAIL).password_hash == f"fake$v1${NEW}"


def test_confirm_revokes_every_session_and_notifies(world):
    verified(world)
    tokens = world.services.tokens
    pairs = [world.login(email=EMAIL, phone=None, password=PASSWORD)[1] for _ in range(2)]
    request_by_email(world)

    confirm(world, token=reset_link(world))

    assert all(not f.is_active for f in world.store.families.values())
    assert {f.revoke_reason for f in world.store.families.values()} == {"password_reset"}
    for pair in pairs:
        with pytest.raises(InvalidToken):
            tokens.refresh(pair.refresh)
    assert world.emails(EMAIL)[-1].payload["template"] == "password_changed"
    assert world.audit_kinds()[-1] == "authn_password_reset_done"
    world.login(email=EMAIL, phone=None, password=NEW)


def test_a_phone_only_user_is_notified_by_sms(world):
    verified(world, email=None, phone=PHONE)
    world.services.resets.request(email=None, phone=PHONE)
    confirm(world, phone=PHONE, code=sms_code(world))
    assert world.texts(PHONE)[-1].payload["template"] == "password_changed"


def test_the_link_host_comes_from_the_policy_not_the_request(world):
    verified(world)
    request_by_email(world)
    link = world.field_of(world.emails(EMAIL)[-1], "link")
    assert link.startswith(world.policy.base_url + "/reset/")


@pytest.mark.parametrize("email,phone,channel", [(EMAIL, PHONE, "email"), (None, PHONE, "sms")])
def test_staff_send_reset_uses_email_when_there_is_one(world, email, phone, channel):
    user = verified(world, email=email, phone=phone)
    boss, _ = world.services.admin.create_admin("boss@example.com", PASSWORD)
    before = len(world.store.outbox)
    assert world.services.admin.act(boss.id, user.id, "send_reset") == \
        "A password reset message is queued."
    [message] = list(world.store.outbox.values())[before:]
    assert (message.kind, message.payload["template"]) == (channel, "reset")


def test_the_audit_trail_records_who_asked(world):
    verified(world)
    request_by_email(world)
    event = world.store.audit[-1]
    assert (event.kind, event.ip, event.user_agent, event.request_id) == (
        "authn_password_reset_requested", "192.0.2.1", "pytest", "req-1")
    assert event.data == {"channel": "email"}
    assert event.user_id == world.user(email=EMAIL).id
