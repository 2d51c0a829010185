"""An account erased while a Stripe job is under way (fakes): no customer is left behind
at Stripe, and nothing of the person is sent to Stripe once the erasure has committed.

The creation job reads the account (under its row lock), calls Stripe, and writes the
customer's id back; the update job reads and calls. The erasure, under the same lock,
waits for a job that holds a lease; one that outlived its lease, or an attempt that
timed out after Stripe made the customer, leaves a deletion job behind it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.helpers.world import EMAIL, add_user, customer_jobs, deliver, verified_id
from webapp.domain.model import MessageKind, MessageStatus, OutboxMessage


def _grace_zero(world) -> None:
    world.ports.policy = replace(world.policy, account_deletion_grace=timedelta(0))
    world.services.account_data.policy = world.ports.policy


def _delete(world, user_id):
    return world.services.account_data.request_deletion(user_id, world.clock.now())


def _sends_only_while_the_account_exists(world, user_id) -> list[bool]:
    """Every create/update call at Stripe notes whether the account still existed."""
    seen: list[bool] = []
    previous = world.billing.meanwhile

    def note(call: str) -> None:
        seen.append(user_id in world.store.users)
        if previous is not None:
            previous(call)

    world.billing.meanwhile = note
    return seen


def _claim(world, worker: str = "w1") -> list[OutboxMessage]:
    """A worker has claimed what is due and not yet read the account."""
    now = world.clock.now()
    with world.ports.uow() as uow:
        batch = uow.outbox.claim_due(now, now + world.policy.delivery_lease, worker, 20)
        uow.commit()
    return batch


def _queue_update(world, user_id) -> None:
    """What an address change queues for an account with a customer."""
    with world.ports.uow() as uow:
        uow.outbox.add(OutboxMessage(
            kind=MessageKind.CUSTOMER_UPDATE, payload={"user_id": user_id},
            created_at=world.clock.now(), next_attempt_at=world.clock.now(), user_id=user_id,
            idempotency_key="customer-update-1"))
        uow.commit()


def _deliver_until_quiet(world) -> None:
    for _ in range(6):
        world.clock.advance(minutes=2)
        deliver(world)


def test_erasure_during_the_creation_call_waits_for_it_then_deletes_the_customer(world):
    _grace_zero(world)
    user_id = verified_id(world)
    dues = []
    world.billing.meanwhile = lambda call: dues.append(_delete(world, user_id))
    seen = _sends_only_while_the_account_exists(world, user_id)
    deliver(world)
    (due,) = dues
    assert due is not None and due > world.clock.now()  # held back by the job's lease
    assert seen == [True]
    user = world.store.users[user_id]
    assert user.is_active is False and user.stripe_customer_id == "cus_1"
    assert not [e for e in world.emails(EMAIL) if "cancel_link" in e.payload.get("context", {})]
    _deliver_until_quiet(world)  # the erasure, then the deletion at Stripe
    assert user_id not in world.store.users
    assert world.billing.customers == {} and world.billing.deleted == ["cus_1"]


def test_erasure_after_the_claim_before_the_read_sends_nothing_to_stripe(world):
    _grace_zero(world)
    user_id = verified_id(world)
    batch = _claim(world)
    due = _delete(world, user_id)
    assert due == batch[0].locked_until  # erased once that job's lease is over
    world.services.delivery.deliver_claimed(batch, "w1")
    assert world.billing.customers == {}  # the account is going: not created
    _deliver_until_quiet(world)
    assert user_id not in world.store.users
    assert world.billing.customers == {} and world.billing.deleted == []


def test_a_creation_that_outlives_its_lease_deletes_the_customer_it_made(world):
    _grace_zero(world)
    user_id = verified_id(world)
    outcome = []

    def hung_then_erased(call: str) -> None:
        world.clock.advance(seconds=world.policy.delivery_lease.total_seconds() + 1)
        outcome.append(_delete(world, user_id))

    world.billing.meanwhile = hung_then_erased
    deliver(world)
    assert outcome == [None] and user_id not in world.store.users  # erased at once
    world.billing.meanwhile = None
    jobs = [m for m in world.store.outbox.values() if m.kind == MessageKind.CUSTOMER_DELETE]
    # The write-back's, by id (the erasure's own, by account, saw the claim's outcome unknown)
    assert {"customer_id": "cus_1"} in [job.payload for job in jobs]
    assert all(job.user_id is None for job in jobs)
    world.billing.fail_times = 2  # Stripe down: the deletion waits and is not lost
    _deliver_until_quiet(world)
    assert world.billing.customers == {} and set(world.billing.deleted) == {"cus_1"}


def test_an_attempt_that_timed_out_after_stripe_made_the_customer_is_deleted_too(world):
    _grace_zero(world)
    world.billing.die_after_create = 1
    user_id = verified_id(world)
    deliver(world)
    (job,) = customer_jobs(world)
    assert job.status == MessageStatus.PENDING and job.attempts == 1
    assert list(world.billing.customers) == ["cus_1"]  # at Stripe, never linked
    assert _delete(world, user_id) is None
    _deliver_until_quiet(world)
    assert user_id not in world.store.users
    assert world.billing.customers == {} and world.billing.deleted == ["cus_1"]
    deletion = next(m for m in world.store.outbox.values()
                    if m.kind == MessageKind.CUSTOMER_DELETE)
    assert deletion.payload == {"user_id": user_id}  # no address in the job


def test_an_address_update_under_way_holds_the_erasure_back(world):
    _grace_zero(world)
    user_id = verified_id(world)
    deliver(world)
    assert world.store.users[user_id].stripe_customer_id == "cus_1"
    world.clock.advance(minutes=1)
    _queue_update(world, user_id)
    dues = []
    world.billing.meanwhile = lambda call: dues.append(_delete(world, user_id))
    seen = _sends_only_while_the_account_exists(world, user_id)
    deliver(world)
    assert dues[0] is not None and seen == [True]
    assert world.billing.updates == ["customer-update-1"]
    world.billing.meanwhile = None
    _deliver_until_quiet(world)
    assert user_id not in world.store.users and world.billing.deleted == ["cus_1"]


def test_an_update_queued_before_the_erasure_sends_nothing_after_it(world):
    _grace_zero(world)
    user_id = verified_id(world)
    deliver(world)
    _queue_update(world, user_id)
    assert _delete(world, user_id) is None  # not claimed yet: erased at once
    _deliver_until_quiet(world)
    assert world.billing.updates == [] and world.billing.deleted == ["cus_1"]


def test_the_search_by_account_spares_a_new_account_with_the_same_id(world):
    """SQLite gives the highest id again once its account is erased: the customer that the
    search by account finds may be the new account's, not the erased one's to delete."""
    _grace_zero(world)
    world.billing.die_after_create = 1
    user_id = verified_id(world)
    deliver(world)
    assert _delete(world, user_id) is None  # a deletion by account is queued
    world.billing.customers.pop("cus_1")  # (removed at Stripe by hand meanwhile)
    other = add_user(world, "new@example.com", stripe_customer_id="cus_9")
    world.store.users[user_id] = replace(world.store.users.pop(other.id), id=user_id)
    world.billing.customers["cus_9"] = {"metadata": {"user_id": str(user_id)}}
    _deliver_until_quiet(world)
    assert "cus_9" in world.billing.customers and world.billing.deleted == []


def test_a_twin_made_while_another_job_linked_a_customer_is_deleted(world):
    user_id = verified_id(world)

    def another_job_links_its_own(call: str) -> None:
        world.store.users[user_id].stripe_customer_id = "cus_other"

    world.billing.meanwhile = another_job_links_its_own
    deliver(world)
    world.billing.meanwhile = None
    _deliver_until_quiet(world)
    assert world.store.users[user_id].stripe_customer_id == "cus_other"
    assert world.billing.deleted == ["cus_1"]  # the twin, with the person's data


def test_the_search_by_account_waits_for_stripes_search_index(world):
    """Stripe's search shows a customer made a moment ago only within a minute."""
    _grace_zero(world)
    world.billing.die_after_create = 1
    user_id = verified_id(world)
    deliver(world)
    erased_at = world.clock.now()
    assert _delete(world, user_id) is None
    deletion = next(m for m in world.store.outbox.values()
                    if m.kind == MessageKind.CUSTOMER_DELETE)
    assert deletion.next_attempt_at >= erased_at + timedelta(minutes=1)
    deliver(world)
    assert world.billing.deleted == []  # not yet
