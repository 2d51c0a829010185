"""Staff actions on the service layer: the acting account is re-checked in the transaction."""

from __future__ import annotations

import contextlib

import pytest

from tests.fakes import make_world
from tests.helpers.world import PASSWORD, PHONE, add_user, sms_code
from webapp.domain.errors import (
    ActionRefused,
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from webapp.domain.model import RefreshFamily, User


@pytest.fixture
def world():
    return make_world()


def test_a_demoted_or_deactivated_actor_cannot_act(world):
    admin = world.services.admin
    target = add_user(world, "t@example.com")
    for actor in (add_user(world, "plain@example.com"),
                  add_user(world, "gone@example.com", is_staff=True, is_active=False)):
        with pytest.raises(PermissionDenied):
            admin.act(actor.id, target.id, "deactivate")
    assert world.store.users[target.id].is_active
    assert world.audit_kinds() == ["authz_fail", "authz_fail"]


@pytest.mark.parametrize("action", ["demote", "deactivate"])
def test_no_door_takes_away_the_last_active_staff_member(world, action):
    """The command line acts as nobody (actor None); the last active staff member stays,
    as the staff pages keep them (nobody acts on themselves there)."""
    boss = add_user(world, "boss@example.com", is_staff=True)
    add_user(world, "gone@example.com", is_staff=True, is_active=False)
    with pytest.raises(Conflict, match="last staff account"):
        world.services.admin.act(None, boss.id, action)
    kept = world.store.users[boss.id]
    assert kept.is_staff and kept.is_active and world.audit_kinds() == []
    other = add_user(world, "other@example.com", is_staff=True)
    world.services.admin.act(None, boss.id, action)  # another one is left: done
    with pytest.raises(Conflict):
        world.services.admin.act(None, other.id, action)


def test_deactivation_revokes_families_and_rotates_the_uniquifier(world):
    boss = add_user(world, "boss@example.com", is_staff=True)
    target = add_user(world, "t@example.com")
    world.store.families["f1"] = RefreshFamily(id="f1", user_id=target.id,
                                               created_at=world.clock.now())
    before = world.store.users[target.id].uniquifier
    world.services.admin.act(boss.id, target.id, "deactivate")
    after = world.store.users[target.id]
    assert not after.is_active and after.uniquifier != before
    assert world.store.families["f1"].revoke_reason == "deactivated"
    event = world.store.audit[-1]
    assert (event.kind, event.actor_id, event.user_id) == ("authz_admin", boss.id, target.id)
    assert event.request_id == "req-1" and event.ip == "192.0.2.1"


def test_refusals_and_unknowns(world):
    boss = add_user(world, "boss@example.com", is_staff=True)
    customer = add_user(world, "c@example.com", stripe_customer_id="cus_1",
                        email_verified_at=world.clock.now())
    with pytest.raises(ActionRefused):
        world.services.admin.act(boss.id, customer.id, "retry_stripe")
    with pytest.raises(ActionRefused):
        world.services.admin.act(boss.id, customer.id, "resend_verification")
    with pytest.raises(NotFound):
        world.services.admin.act(boss.id, customer.id, "drop_table")
    with pytest.raises(NotFound):
        world.services.admin.act(boss.id, 999, "promote")
    assert "authz_admin" not in world.audit_kinds()


def test_retry_stripe_queues_a_job_when_none_exists(world):
    boss = add_user(world, "boss@example.com", is_staff=True)
    user = add_user(world, "v@example.com", email_verified_at=world.clock.now())
    world.services.admin.act(boss.id, user.id, "retry_stripe")
    jobs = [m for m in world.store.outbox.values() if m.kind == "stripe_customer"]
    assert [j.idempotency_key for j in jobs] == [f"customer-create-{user.id}"]


def test_create_admin_applies_the_password_rules(world):
    with pytest.raises(ValidationFailed):
        world.services.admin.create_admin("root@example.com", "password")
    user, created = world.services.admin.create_admin("root@example.com",
                                                      "correct horse battery staple")
    assert created and user.is_staff and user.email_verified_at is not None


def test_a_staff_retry_leaves_a_live_lease_alone(world):
    from datetime import timedelta

    boss = add_user(world, "boss@example.com", is_staff=True)
    user = add_user(world, "v@example.com", email_verified_at=world.clock.now())
    world.services.admin.act(boss.id, user.id, "retry_stripe")  # queues the job
    job = next(m for m in world.store.outbox.values() if m.kind == "stripe_customer")
    job.locked_by, job.locked_until = "worker-1", world.clock.now() + timedelta(seconds=30)
    job.attempts = 10
    world.services.admin.retry_message(boss.id, job.id)
    again = world.store.outbox[job.id]
    assert (again.locked_by, again.status, again.attempts) == ("worker-1", "pending", 0)
    assert again.next_attempt_at == world.clock.now()


def test_retry_stripe_after_the_customer_was_deleted_queues_a_new_one():
    """customer.deleted unlinks the customer; the creation job is long delivered. Staff's
    "Retry Stripe customer" (offered: verified, no customer) makes a new one, as Checkout does."""
    from tests.helpers.world import customer_jobs, customer_ready, deliver

    world = make_world()
    boss = add_user(world, "boss@example.com", is_staff=True)
    user_id = customer_ready(world)
    old = world.store.users[user_id].stripe_customer_id
    world.store.users[user_id].stripe_customer_id = None  # what customer.deleted leaves
    world.billing.customers[old]["metadata"]["user_id"] = ""  # deleted: no longer listed
    assert world.services.admin.act(boss.id, user_id, "retry_stripe")
    assert [j.status for j in customer_jobs(world)].count("pending") == 1
    deliver(world)
    assert world.store.users[user_id].stripe_customer_id not in (None, old)
    assert len(world.billing.customers) == 2  # the deleted one and the new one


def _taken_over_by_sms(world, phone: str) -> User | None:
    """The attacker's move: a reset by SMS to their own phone, then their own password."""
    world.services.resets.request(email=None, phone=phone)
    texts = world.texts(phone)
    if not texts or "code=" not in texts[-1].payload["body"]:
        return None
    try:
        return world.services.resets.confirm(
            new_password="the attacker's new phrase", confirm_password="the attacker's new phrase",
            phone=phone, code=world.field_of(texts[-1], "code"))
    except DomainError:
        return None


@pytest.mark.parametrize("attacker_verifies_phone", [True, False])
def test_create_admin_on_a_preregistered_address_leaves_no_way_in_for_its_registrant(
        attacker_verifies_phone):
    """Open registration: someone registers the operator's future admin address with their
    own phone (verified at once, or later). create-admin must not hand that person a staff
    account: the address is the operator's, the phone proves nothing about it."""
    world = make_world()
    world.services.accounts.register(email="admin@example.com", phone=PHONE,
                                     password="the attacker's passphrase")
    if attacker_verifies_phone:
        world.services.verification.verify_phone_code(PHONE, sms_code(world))
    staff, _ = world.services.admin.create_admin("admin@example.com", PASSWORD)
    assert staff.is_staff and staff.email == "admin@example.com" and staff.phone is None
    if not attacker_verifies_phone:  # later: the phone is still theirs to verify
        world.clock.advance(minutes=5)
        world.services.verification.resend_phone(PHONE)
        with contextlib.suppress(DomainError):  # no code comes: the number is on no account
            world.services.verification.verify_phone_code(PHONE, sms_code(world))
    world.clock.advance(minutes=5)
    taken = _taken_over_by_sms(world, PHONE)
    assert taken is None or not taken.is_staff
    assert world.store.users[staff.id].is_staff and world.store.users[staff.id].phone is None


def test_an_account_waiting_for_its_deletion_is_not_reactivated(world):
    """Reactivated, it would be used again and then erased all the same when its grace
    ends: staff are refused; the owner's cancel link is how it is kept."""
    from tests.helpers.world import EMAIL, verified

    boss = add_user(world, "boss@example.com", is_staff=True)
    user = verified(world)
    world.services.account_data.request_deletion(user.id, world.clock.now())
    with pytest.raises(ActionRefused):
        world.services.admin.act(boss.id, user.id, "reactivate")
    kept = world.store.users[user.id]
    assert not kept.is_active and kept.deletion_due_at is not None
    assert kept.email == EMAIL
