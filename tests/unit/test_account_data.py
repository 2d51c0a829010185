"""Export and deletion of an account (fakes, fake clock)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from tests import stripe_events as se
from tests.fakes import make_world
from tests.helpers.world import EMAIL, PASSWORD, register, verified
from webapp.application.throttling import ThrottlePolicy
from webapp.domain.errors import (
    Conflict,
    InvalidCredentials,
    InvalidToken,
    ReauthenticationRequired,
    Throttled,
)
from webapp.domain.model import MessageKind


def _now(world):
    return world.clock.now()


def _cancel_token(world, to=EMAIL):
    link = world.field_of(world.emails(to)[-1], "cancel_link")
    return link.split("/account/delete/cancel/", 1)[1]


def _with_customer(world):
    user = verified(world)
    world.services.delivery.deliver_due("w")
    return world.store.users[user.id]


# --- export ----------------------------------------------------------------------------


def test_export_holds_everything_and_no_secret(world) -> None:
    user, _ = verified(world), None
    world.login(EMAIL, password=PASSWORD)
    data = world.services.account_data.export(user.id, _now(world))
    assert data["profile"]["id"] == user.id
    assert data["addresses"] == [{"channel": "email", "address": EMAIL,
                                  "verified_at": _now(world).isoformat()}]
    assert len(data["sessions"]) == 1
    assert {"authn_login_success", "user_verified"} <= {e["event"] for e in data["activity"]}
    assert data["second_factors"] == {"kinds": [], "passkeys": [], "recovery_codes_left": 0}
    text = json.dumps(data)
    stored = world.store.users[user.id]
    assert stored.password_hash not in text and stored.uniquifier not in text
    assert "account_exported" in world.audit_kinds()


def test_export_needs_a_recent_sign_in(world) -> None:
    user = verified(world)
    with pytest.raises(ReauthenticationRequired):
        world.services.account_data.export(user.id, _now(world) - timedelta(minutes=6))


def test_export_is_rate_limited_per_account() -> None:
    world = make_world(throttle=ThrottlePolicy())
    user = verified(world)
    for _ in range(5):
        world.services.account_data.export(user.id, _now(world))
    with pytest.raises(Throttled):
        world.services.account_data.export(user.id, _now(world))


# --- deletion --------------------------------------------------------------------------


def test_deletion_ends_sessions_refuses_sign_in_and_mails_a_cancel_link(world) -> None:
    user = verified(world)
    _, tokens = world.login(EMAIL, password=PASSWORD)
    due = world.services.account_data.request_deletion(user.id, _now(world))
    assert due == _now(world) + timedelta(days=7)
    with pytest.raises(InvalidCredentials):
        world.login(EMAIL, password=PASSWORD)
    with pytest.raises(Exception):  # noqa: B017 - the access token is dead
        world.services.tokens.user_for_access(tokens.access)
    assert all(f.revoked_at for f in world.store.families.values())
    job = next(m for m in world.store.outbox.values() if m.kind == MessageKind.ACCOUNT_ERASE)
    assert job.next_attempt_at == due
    assert world.emails(EMAIL)[-1].payload["subject"] == "email/account_deletion"


def test_deletion_needs_a_recent_sign_in(world) -> None:
    user = verified(world)
    with pytest.raises(ReauthenticationRequired):
        world.services.account_data.request_deletion(user.id, None)
    assert world.store.users[user.id].is_active


def test_cancel_brings_the_account_back_once(world) -> None:
    user = verified(world)
    world.services.account_data.request_deletion(user.id, _now(world))
    token = _cancel_token(world)
    world.services.account_data.cancel_deletion(token)
    world.login(EMAIL, password=PASSWORD)  # signs in again
    with pytest.raises(InvalidToken):
        world.services.account_data.cancel_deletion(token)
    world.clock.advance(days=8)
    world.services.delivery.deliver_due("w")
    assert user.id in world.store.users  # the cancelled job erased nothing


def test_cancel_after_the_grace_is_refused(world) -> None:
    user = verified(world)
    world.services.account_data.request_deletion(user.id, _now(world))
    token = _cancel_token(world)
    world.clock.advance(days=7, seconds=1)
    with pytest.raises(InvalidToken):
        world.services.account_data.cancel_deletion(token)


def test_nothing_is_erased_before_the_grace_ends(world) -> None:
    user = verified(world)
    world.services.account_data.request_deletion(user.id, _now(world))
    world.clock.advance(days=6)
    world.services.delivery.deliver_due("w")
    assert user.id in world.store.users


def test_erasure_after_the_grace_leaves_no_personal_data(world) -> None:
    user = _with_customer(world)
    customer = user.stripe_customer_id
    event = se.subscription("created", "active", se.T0, customer=customer)
    world.services.billing.handle_webhook(se.body(event), "valid")
    world.services.account_data.request_deletion(user.id, _now(world))
    world.clock.advance(days=7, seconds=1)
    world.services.delivery.deliver_due("w")  # the erasure, then the customer's deletion
    world.services.delivery.deliver_due("w")
    assert user.id not in world.store.users
    assert customer not in world.billing.customers and world.billing.deleted == [customer]
    assert world.store.codes == {} and world.store.families == {}
    text = json.dumps([m.payload for m in world.store.outbox.values()])
    assert EMAIL not in text
    assert all(e.user_id is None and e.ip == "" for e in world.store.audit)
    assert all(EMAIL not in json.dumps(e.data) for e in world.store.audit)
    assert "account_erased" in world.audit_kinds()
    assert len({e.data.get("subject") for e in world.store.audit}) == 1  # one pseudonym
    assert world.store.billing_events[event["id"]].payload == {"redacted": True}
    register(world)  # the address is free again: a new account gets it
    assert world.user(email=EMAIL).id != user.id


def test_grace_zero_erases_at_once_and_stripe_down_loses_nothing() -> None:
    world = make_world()
    world.ports.policy = replace(world.policy, account_deletion_grace=timedelta(0))
    world.services.account_data.policy = world.ports.policy
    user = _with_customer(world)
    assert world.services.account_data.request_deletion(user.id, _now(world)) is None
    assert user.id not in world.store.users  # erased in the request, Stripe or not
    world.billing.fail_times = 3
    for _ in range(4):
        world.services.delivery.deliver_due("w")
        world.clock.advance(minutes=10)
    assert world.billing.deleted == [user.stripe_customer_id]


def test_last_staff_member_cannot_be_deleted(world) -> None:
    staff = verified(world)
    world.services.admin.create_admin(EMAIL, PASSWORD)
    with pytest.raises(Conflict):
        world.services.account_data.request_deletion(staff.id, _now(world))
    world.services.admin.create_admin("second@example.com", "another long passphrase")
    world.services.account_data.request_deletion(staff.id, _now(world))
    assert world.store.users[staff.id].deletion_due_at is not None


def test_staff_deletion_from_the_command_line_is_the_same_path(world) -> None:
    user = verified(world)
    world.services.account_data.delete_by_staff(EMAIL)
    assert world.store.users[user.id].deletion_due_at is not None
    event = next(e for e in world.store.audit if e.kind == "account_delete_requested")
    assert event.data["by_staff"] is True


def test_export_lists_browser_sessions_and_erasure_forgets_them(world) -> None:
    user = verified(world)
    secret = world.services.sessions.start(world.store.users[user.id])
    data = world.services.account_data.export(user.id, _now(world))
    [browser] = [s for s in data["sessions"] if s["kind"] == "browser"]
    assert browser["created_at"] == _now(world).isoformat() and browser["ended_at"] is None
    assert world.sessions.sessions  # the record, with its IP address and user agent
    world.services.account_data.request_deletion(user.id, _now(world))
    world.clock.advance(days=7, seconds=1)
    world.services.delivery.deliver_due("w")
    assert world.sessions.sessions == {}, secret


def test_the_cancel_link_goes_to_a_proven_address(world) -> None:
    """An account with a verified phone beside an email nobody proved: the cancel link goes
    by SMS to the phone (the email may not be the owner's, or reach them at all)."""
    from tests.helpers.world import PHONE, register, sms_code

    register(world, email=EMAIL, phone=PHONE)
    user = world.services.verification.verify_phone_code(PHONE, sms_code(world))
    assert user.email == EMAIL and user.email_verified_at is None
    emails_before = len(world.emails(EMAIL))
    world.services.account_data.request_deletion(user.id, _now(world))
    assert len(world.emails(EMAIL)) == emails_before
    assert "/account/delete/cancel/" in world.field_of(world.texts(PHONE)[-1], "cancel_link")


# --- registering an address of an account waiting for its erasure ----------------------


def _registered_again(world, email=EMAIL):
    """Someone registers the address; what it gets, and the cancel link (None: none)."""
    world.services.accounts.register(email=email, phone=None, password="another pass phrase")
    message = world.emails(email)[-1]
    link = world.field_of(message, "cancel_link")
    return message, (None if link == "None" else link)


def test_signing_up_with_an_address_waiting_for_erasure_mails_how_to_keep_it(world) -> None:
    """Carried over: the owner was told "log in or reset your password", both refused
    while the deletion is pending. Now: when it goes, and a cancel link that works."""
    user = verified(world)
    world.services.account_data.request_deletion(user.id, _now(world))
    message, link = _registered_again(world)
    assert message.payload["template"] == "account_exists_deleting"
    assert world.field_of(message, "due") and link
    world.services.account_data.cancel_deletion(link.split("/account/delete/cancel/", 1)[1])
    world.login(EMAIL, password=PASSWORD)  # the account is back, with its password


def test_the_link_of_a_deactivated_accounts_notice_leaves_it_deactivated(world) -> None:
    boss, _ = world.services.admin.create_admin("boss@example.com", PASSWORD)
    user = verified(world)
    world.services.admin.act(boss.id, user.id, "deactivate")
    world.services.account_data.delete_by_staff(EMAIL, boss.id)
    _, link = _registered_again(world)
    world.services.account_data.cancel_deletion(link.split("/account/delete/cancel/", 1)[1])
    kept = world.store.users[user.id]
    assert kept.deletion_due_at is None and not kept.is_active


def test_an_unproven_address_of_an_account_waiting_for_erasure_gets_no_cancel_link(
        world) -> None:
    from tests.helpers.world import PHONE, sms_code

    register(world, email=EMAIL, phone=PHONE)
    user = world.services.verification.verify_phone_code(PHONE, sms_code(world))
    world.services.account_data.request_deletion(user.id, _now(world))
    message, link = _registered_again(world)
    assert message.payload["template"] == "account_exists_deleting" and link is None
