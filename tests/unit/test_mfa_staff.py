"""What the pages add to the second factor's service layer: a pending set-up shown again,
staff turning second factors off (a reason required, audited), and staff who must have a
factor (MFA_REQUIRED_FOR_STAFF)."""

from __future__ import annotations

import pytest

from tests.fakes import make_world
from tests.fakes.mfa import fake_code, step_at
from tests.helpers.world import EMAIL, add_user, verified
from webapp.application.admin import REASON_MAX
from webapp.application.policy import Policy
from webapp.domain.errors import ActionRefused, ValidationFailed


@pytest.fixture
def world():
    return make_world()


def turn_on(world, user):
    setup = world.services.mfa.start_totp(user.id, world.clock.now())
    world.services.mfa.confirm_totp(user.id, fake_code(setup.secret, step_at(world.clock.now())))


def test_a_pending_setup_is_shown_again_until_confirmed(world):
    user = verified(world)
    assert world.services.mfa.pending_totp(user.id) is None
    setup = world.services.mfa.start_totp(user.id, world.clock.now())
    again = world.services.mfa.pending_totp(user.id)
    assert again == setup  # the same secret, URI and QR code
    world.services.mfa.confirm_totp(user.id, fake_code(setup.secret, step_at(world.clock.now())))
    assert world.services.mfa.pending_totp(user.id) is None  # on: its secret is never shown


def test_staff_turn_off_second_factors_only_with_a_reason(world):
    boss = add_user(world, "boss@example.com", is_staff=True)
    user = verified(world)
    turn_on(world, user)
    admin = world.services.admin
    for reason in ("", "   \n "):
        with pytest.raises(ValidationFailed) as caught:
            admin.act(boss.id, user.id, "mfa_off", reason=reason)
        assert "reason" in caught.value.errors
    with pytest.raises(ValidationFailed):
        admin.act(boss.id, user.id, "mfa_off", reason="x" * (REASON_MAX + 1))
    assert world.user(email=EMAIL).has_second_factor  # nothing happened
    message = admin.act(boss.id, user.id, "mfa_off", reason="  lost\nphone ")
    assert message == "Second factors turned off; the user is told."
    assert not world.user(email=EMAIL).has_second_factor
    event = [e for e in world.store.audit if e.kind == "authz_admin"][-1]
    assert event.data == {"action": "mfa_off", "via": "admin", "reason": "lost phone"}
    assert event.actor_id == boss.id
    with pytest.raises(ActionRefused):
        admin.act(boss.id, user.id, "mfa_off", reason="again")


def test_other_actions_need_no_reason_and_keep_one_given(world):
    boss = add_user(world, "boss@example.com", is_staff=True)
    user = verified(world)
    world.services.admin.act(boss.id, user.id, "revoke_sessions")
    world.services.admin.act(boss.id, user.id, "revoke_sessions", reason="asked by phone")
    events = [e.data for e in world.store.audit if e.kind == "authz_admin"]
    assert "reason" not in events[0] and events[1]["reason"] == "asked by phone"


def test_staff_must_set_up_a_factor_only_when_the_policy_says_so():
    for required in (False, True):
        world = make_world(Policy(mfa_required_for_staff=required))
        boss = add_user(world, "boss@example.com", is_staff=True)
        plain = add_user(world, "plain@example.com")
        admin = world.services.admin
        assert admin.staff_must_set_up_factor(boss) is required
        assert admin.staff_must_set_up_factor(plain) is False  # not staff: the 403 applies
        boss.mfa_version = "v1"
        assert admin.staff_must_set_up_factor(boss) is False


def test_resealing_goes_through_every_secret_in_batches_and_skips_unreadable_ones(world):
    users = [verified(world, email=f"u{i}@example.com") for i in range(5)]
    for user in users:
        world.services.mfa.start_totp(user.id, world.clock.now())
    broken = next(iter(world.store.totp.values()))
    broken.secret = "not sealed by any key"
    assert world.services.mfa.reseal_secrets(batch=2) == (4, 1)
    assert broken.secret == "not sealed by any key"  # left as it was
    event = [e for e in world.store.audit if e.kind == "mfa_secrets_resealed"][-1]
    assert event.data == {"resealed": 4, "unreadable": 1}
