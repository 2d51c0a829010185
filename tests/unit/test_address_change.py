"""Changing an email or phone: request, proof, notices, undo (fakes, fake clock)."""

from __future__ import annotations

import pytest

from tests.fakes import World
from tests.helpers.world import EMAIL, PASSWORD, PHONE, verified, wrong
from webapp.domain.errors import InvalidToken, ReauthenticationRequired, ValidationFailed
from webapp.domain.model import MessageKind
from webapp.domain.values import Channel

NEW = "new@example.com"
NEW_PASSWORD = "a completely new passphrase"


def _link(world: World, to: str, key: str, path: str) -> str:
    link = world.field_of(world.emails(to)[-1], key)
    assert link.startswith(world.policy.base_url + path), link
    return link.split(path, 1)[1]


def _request(world: World, user_id: int, new: str | None = NEW,
             channel: Channel = Channel.EMAIL) -> None:
    world.services.address_changes.request(user_id, channel, new, world.clock.now())


def _change_email(world: World) -> int:
    user = verified(world)
    _request(world, user.id)
    code = world.field_of(world.emails(NEW)[-1], "code")
    world.services.address_changes.confirm(user.id, Channel.EMAIL, code=code)
    return user.id


def test_needs_a_recent_sign_in(world: World) -> None:
    user = verified(world)
    stale = world.clock.now()
    world.clock.advance(seconds=301)
    with pytest.raises(ReauthenticationRequired):
        world.services.address_changes.request(user.id, Channel.EMAIL, NEW, stale)
    assert world.emails(NEW) == []


def test_request_sends_proof_to_new_and_notice_to_old_and_changes_nothing(world) -> None:
    user = verified(world)
    _request(world, user.id)
    assert world.emails(NEW)[-1].payload["subject"] == "email/email_change"
    notice = world.emails(EMAIL)[-1]
    assert notice.payload["subject"] == "email/address_change_requested"
    assert NEW not in notice.payload["text"]  # masked: n***@example.com
    assert "n***@example.com" in notice.payload["text"]
    assert world.user(email=EMAIL).email_verified_at is not None
    assert world.services.address_changes.pending(user.id, Channel.EMAIL).new_value == NEW


def test_confirm_by_code_moves_the_address_and_sends_an_undo_link(world) -> None:
    user_id = _change_email(world)
    user = world.store.users[user_id]
    assert user.email == NEW and user.email_verified_at == world.clock.now()
    notice = world.emails(EMAIL)[-1]
    assert notice.payload["subject"] == "email/address_changed"
    assert "undo_link=" in notice.payload["text"]
    assert "address_changed" in world.audit_kinds()


def test_confirm_by_link(world) -> None:
    user = verified(world)
    _request(world, user.id)
    token = _link(world, NEW, "link", "/account/email/confirm/")
    world.services.address_changes.confirm(user.id, Channel.EMAIL, token=token)
    assert world.store.users[user.id].email == NEW
    with pytest.raises(InvalidToken):  # spent
        world.services.address_changes.confirm(user.id, Channel.EMAIL, token=token)


def test_link_of_another_user_is_refused(world) -> None:
    user = verified(world)
    other = verified(world, email="other@example.com")
    _request(world, user.id)
    token = _link(world, NEW, "link", "/account/email/confirm/")
    with pytest.raises(InvalidToken):
        world.services.address_changes.confirm(other.id, Channel.EMAIL, token=token)


def test_wrong_code_counts_and_changes_nothing(world) -> None:
    user = verified(world)
    _request(world, user.id)
    code = world.field_of(world.emails(NEW)[-1], "code")
    with pytest.raises(InvalidToken):
        world.services.address_changes.confirm(user.id, Channel.EMAIL, code=wrong(code))
    assert world.store.users[user.id].email == EMAIL
    assert max(c.attempts for c in world.store.codes.values()) == 1


def test_pending_change_expires_after_24_hours(world) -> None:
    user = verified(world)
    _request(world, user.id)
    token = _link(world, NEW, "link", "/account/email/confirm/")
    world.clock.advance(hours=24, seconds=1)
    with pytest.raises(InvalidToken):
        world.services.address_changes.confirm(user.id, Channel.EMAIL, token=token)
    assert world.store.users[user.id].email == EMAIL


def test_one_pending_change_at_a_time(world) -> None:
    user = verified(world)
    _request(world, user.id)
    first = _link(world, NEW, "link", "/account/email/confirm/")
    _request(world, user.id, "newer@example.com")
    with pytest.raises(InvalidToken):
        world.services.address_changes.confirm(user.id, Channel.EMAIL, token=first)
    pending = world.services.address_changes.pending(user.id, Channel.EMAIL)
    assert pending.new_value == "newer@example.com"


def test_taken_address_same_answer_owner_told_nothing_to_confirm(world) -> None:
    user = verified(world)
    verified(world, email=NEW)
    before = len(world.emails(NEW))
    _request(world, user.id)  # no error: the same answer as a free address
    told = world.emails(NEW)[before:]
    assert [m.payload["subject"] for m in told] == ["email/address_taken"]
    assert world.emails(EMAIL)[-1].payload["subject"] == "email/address_change_requested"
    # Waiting like any change (the pages show it the same), but no proof was ever sent.
    pending = world.services.address_changes.pending(user.id, Channel.EMAIL)
    assert pending is not None and pending.new_value == NEW
    assert not any(m.payload["subject"] == "email/email_change" for m in world.emails(NEW))


@pytest.mark.parametrize("bad", ["not an address", "jane@example.com", "JANE@example.com",
                                 "jan\u00e9@example.com"])
def test_invalid_or_same_address_is_a_clear_error(world, bad) -> None:
    user = verified(world)
    with pytest.raises(ValidationFailed) as caught:
        _request(world, user.id, bad)
    assert "new_email" in caught.value.errors


def test_undo_restores_the_old_address_sets_the_password_and_ends_sessions(world) -> None:
    user_id = _change_email(world)
    _, tokens = world.login(NEW, password=PASSWORD)
    token = _link(world, EMAIL, "undo_link", "/account/undo/")
    world.services.address_changes.undo(token, NEW_PASSWORD, NEW_PASSWORD)
    user = world.store.users[user_id]
    assert user.email == EMAIL
    assert world.hasher.verify(user.password_hash, NEW_PASSWORD)
    assert all(f.revoked_at is not None for f in world.store.families.values())
    with pytest.raises(Exception):  # noqa: B017 - the old session version is gone
        world.services.tokens.user_for_access(tokens.access)
    with pytest.raises(InvalidToken):  # once only
        world.services.address_changes.undo(token, NEW_PASSWORD, NEW_PASSWORD)


def test_undo_expires_after_7_days(world) -> None:
    _change_email(world)
    token = _link(world, EMAIL, "undo_link", "/account/undo/")
    world.clock.advance(days=7, seconds=1)
    with pytest.raises(InvalidToken):
        world.services.address_changes.undo(token, NEW_PASSWORD, NEW_PASSWORD)


def test_undo_needs_matching_strong_passwords(world) -> None:
    _change_email(world)
    token = _link(world, EMAIL, "undo_link", "/account/undo/")
    with pytest.raises(ValidationFailed):
        world.services.address_changes.undo(token, NEW_PASSWORD, NEW_PASSWORD + "x")
    with pytest.raises(ValidationFailed):
        world.services.address_changes.undo(token, "short", "short")
    world.services.address_changes.undo(token, NEW_PASSWORD, NEW_PASSWORD)  # still unspent


def test_stripe_customer_email_follows_through_the_outbox(world) -> None:
    user = verified(world)
    world.services.delivery.deliver_due("w")  # the customer, made with the old address
    customer = world.store.users[user.id].stripe_customer_id
    assert world.billing.customers[customer]["email"] == EMAIL
    _request(world, user.id)
    code = world.field_of(world.emails(NEW)[-1], "code")
    world.services.address_changes.confirm(user.id, Channel.EMAIL, code=code)
    world.billing.fail_times = 1  # Stripe down once: retried, not lost
    world.services.delivery.deliver_due("w")
    assert world.billing.customers[customer]["email"] == EMAIL
    world.clock.advance(minutes=5)
    world.services.delivery.deliver_due("w")
    assert world.billing.customers[customer]["email"] == NEW
    jobs = [m for m in world.store.outbox.values() if m.kind == MessageKind.CUSTOMER_UPDATE]
    assert len(jobs) == 1 and jobs[0].status == "sent"


def test_phone_change_by_sms_code(world) -> None:
    user = verified(world, email=None, phone=PHONE)
    new = "+14155550199"
    _request(world, user.id, new, Channel.PHONE)
    code = world.field_of(world.texts(new)[-1], "code")
    world.services.address_changes.confirm(user.id, Channel.PHONE, code=code)
    assert world.store.users[user.id].phone == new
    assert "undo_link=" in world.texts(PHONE)[-1].payload["body"]


def test_adding_a_phone_to_an_email_only_account(world) -> None:
    user = verified(world)
    _request(world, user.id, PHONE, Channel.PHONE)
    code = world.field_of(world.texts(PHONE)[-1], "code")
    world.services.address_changes.confirm(user.id, Channel.PHONE, code=code)
    stored = world.store.users[user.id]
    assert stored.phone == PHONE and stored.phone_verified_at is not None
    assert world.emails(EMAIL)[-1].payload["subject"] == "email/address_changed"


def test_removing_the_second_address_but_never_the_last_proven(world) -> None:
    user = verified(world)
    with pytest.raises(ValidationFailed):  # the only address
        _request(world, user.id, "", Channel.EMAIL)
    _request(world, user.id, PHONE, Channel.PHONE)
    code = world.field_of(world.texts(PHONE)[-1], "code")
    world.services.address_changes.confirm(user.id, Channel.PHONE, code=code)
    _request(world, user.id, None, Channel.PHONE)
    assert world.store.users[user.id].phone is None
    with pytest.raises(ValidationFailed):
        _request(world, user.id, None, Channel.EMAIL)


def test_a_change_from_an_unproven_address_is_told_to_the_proven_one(world) -> None:
    """The phone was never proven (a typo, or someone else's number): the change is told
    to the account's proven email, as the request was, not by SMS to that number."""
    from tests.helpers.world import register

    register(world, email=EMAIL, phone=PHONE)
    user = world.services.verification.verify_email_code(
        EMAIL, world.field_of(world.emails(EMAIL)[-1], "code"))
    new_phone = "+14155550199"
    _request(world, user.id, new_phone, Channel.PHONE)
    texts_before = len(world.texts(PHONE))
    world.services.address_changes.confirm(
        user.id, Channel.PHONE, code=world.field_of(world.texts(new_phone)[-1], "code"))
    assert len(world.texts(PHONE)) == texts_before
    assert world.emails(EMAIL)[-1].payload["subject"] == "email/address_changed"
