"""The invitation lifecycle on the service layer, with fakes and a fake clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.fakes import make_world
from tests.helpers.world import add_user
from webapp.application.policy import Policy
from webapp.application.signin import Door
from webapp.application.throttling import DEFAULT_LIMITS, ThrottlePolicy
from webapp.domain.errors import (
    InvalidCredentials,
    InvalidToken,
    PermissionDenied,
    Throttled,
    ValidationFailed,
)

PASSWORD = "correct horse battery staple"


@pytest.fixture
def world():
    return make_world()


@pytest.fixture
def boss(world):
    return add_user(world, "boss@example.com", is_staff=True,
                    email_verified_at=world.clock.now())


def invite(world, boss, email="new@example.com", **kw):
    invitation = world.services.invitations.invite(boss.id, email, **kw)
    sent = world.emails(invitation.email)[-1]
    token = world.field_of(sent, "link").rsplit("/invite/", 1)[1]
    return invitation, token


def test_accept_creates_a_verified_account_and_queues_the_stripe_customer(world, boss):
    invitation, token = invite(world, boss, "New@Example.com", as_staff=True)
    assert invitation.email == "new@example.com"
    user = world.services.invitations.accept(token, PASSWORD, first_name=" Ann ")
    assert user.email_verified_at is not None and user.is_staff and user.first_name == "Ann"
    stored = world.store.invitations[invitation.id]
    assert stored.accepted_user_id == user.id
    jobs = [m for m in world.store.outbox.values() if m.kind == "stripe_customer"]
    assert [j.payload["user_id"] for j in jobs] == [user.id]
    assert {"user_invited", "user_created", "user_verified",
            "invitation_accepted"} <= set(world.audit_kinds())


def test_a_used_invitation_cannot_be_used_again(world, boss):
    _, token = invite(world, boss)
    world.services.invitations.accept(token, PASSWORD)
    with pytest.raises(InvalidToken) as refused:
        world.services.invitations.accept(token, PASSWORD)
    assert refused.value.code == "invitation_used"


def test_expired_invitation_is_refused_and_resend_revives_it(world, boss):
    invitation, token = invite(world, boss)
    world.clock.advance(days=7, seconds=1)
    with pytest.raises(InvalidToken) as refused:
        world.services.invitations.accept(token, PASSWORD)
    assert refused.value.code == "invitation_expired"
    world.services.invitations.resend(boss.id, invitation.id)
    fresh = world.field_of(world.emails("new@example.com")[-1], "link").rsplit("/", 1)[1]
    assert world.services.invitations.accept(fresh, PASSWORD).email == "new@example.com"


def test_an_address_our_email_cannot_reach_is_not_invited(world, boss):
    with pytest.raises(ValidationFailed) as caught:
        world.services.invitations.invite(boss.id, "n\u00e9w@example.com")
    assert "before the @-sign" in caught.value.errors["email"][0]
    assert world.emails("n\u00e9w@example.com") == []


def test_revoked_invitation_is_refused(world, boss):
    invitation, token = invite(world, boss)
    world.services.invitations.revoke(boss.id, invitation.id)
    with pytest.raises(InvalidToken) as refused:
        world.services.invitations.lookup(token)
    assert refused.value.code == "invitation_revoked"


def test_wrong_address_and_existing_account_are_refused(world, boss):
    _, token = invite(world, boss)
    with pytest.raises(ValidationFailed) as wrong:
        world.services.invitations.accept(token, PASSWORD, email="other@example.com")
    assert "different address" in wrong.value.errors["email"][0]
    add_user(world, "new@example.com", email_verified_at=world.clock.now())  # meanwhile
    with pytest.raises(ValidationFailed) as taken:
        world.services.invitations.accept(token, PASSWORD)
    assert "already exists" in taken.value.errors["email"][0]
    with pytest.raises(InvalidToken) as told:  # the page says so before its form
        world.services.invitations.lookup(token)
    assert told.value.code == "account_exists" and "Log in instead" in told.value.detail


def test_a_token_for_another_invitation_or_purpose_is_refused(world, boss):
    _, token = invite(world, boss)
    forged = world.ports.signer.dumps("invitation", {"iid": 999, "email": "x@y.z"})
    other = world.ports.signer.dumps("verify-email", {"iid": 1,
                                                             "email": "new@example.com"})
    for bad in (forged, other, token + "x"):
        with pytest.raises(InvalidToken):
            world.services.invitations.accept(bad, PASSWORD)


def test_weak_password_leaves_the_invitation_usable(world, boss):
    _, token = invite(world, boss)
    with pytest.raises(ValidationFailed) as weak:
        world.services.invitations.accept(token, "password")
    assert "password" in weak.value.errors
    assert world.services.invitations.accept(token, PASSWORD).is_verified


def test_only_staff_invite_unless_users_may(world, boss):
    plain = add_user(world, "plain@example.com", email_verified_at=world.clock.now())
    with pytest.raises(PermissionDenied):
        world.services.invitations.invite(plain.id, "friend@example.com")
    assert world.audit_kinds()[-1] == "authz_fail"
    world.services.invitations.policy = replace(Policy(), invitations_by_users=True)
    assert world.services.invitations.invite(plain.id, "friend@example.com").id
    with pytest.raises(PermissionDenied):  # never as staff
        world.services.invitations.invite(plain.id, "mate@example.com", as_staff=True)
    with pytest.raises(PermissionDenied):  # nor manage invitations
        world.services.invitations.revoke(plain.id, 1)


def test_an_address_with_an_account_is_not_invited(world, boss):
    with pytest.raises(ValidationFailed):
        world.services.invitations.invite(boss.id, "boss@example.com")


def test_a_breached_password_is_refused_on_accept_and_for_the_first_admin():
    from tests.fakes import FakeBreachedPasswords

    world = make_world(breached=FakeBreachedPasswords("leaked but long passphrase"))
    boss = add_user(world, "boss@example.com", is_staff=True)
    _, token = invite(world, boss)
    with pytest.raises(ValidationFailed) as refused:
        world.services.invitations.accept(token, "leaked but long passphrase")
    assert "password" in refused.value.errors
    with pytest.raises(ValidationFailed):
        world.services.admin.create_admin("root@example.com", "leaked but long passphrase")


# --- users who are not staff: no answer about accounts, a budget per destination ----------

def users_invite(throttle: ThrottlePolicy | None = None):
    world = make_world(replace(Policy(), invitations_by_users=True), throttle=throttle)
    boss = add_user(world, "boss@example.com", is_staff=True,
                    email_verified_at=world.clock.now())
    pal = add_user(world, "pal@example.com", email_verified_at=world.clock.now())
    return world, boss, pal


def test_a_user_gets_the_same_invitation_for_an_address_with_an_account():
    world, boss, pal = users_invite()
    add_user(world, "taken@example.com", email_verified_at=world.clock.now())
    service = world.services.invitations
    taken = service.invite(pal.id, "Taken@Example.com")
    fresh = service.invite(pal.id, "fresh@example.com")

    def seen(invitation):  # what the API shows, but the address and the running id
        return (invitation.as_staff, invitation.state(world.clock.now(), pal),
                invitation.expires_at - invitation.created_at, invitation.inviter_id)

    assert seen(taken) == seen(fresh)
    # recorded, so the ids run on as for any invitation
    assert world.store.invitations[taken.id].email == "taken@example.com"
    # but only the new address is mailed: the owner's link could not be used
    assert world.emails("taken@example.com") == []
    assert len(world.emails("fresh@example.com")) == 1
    events = [e for e in world.store.audit if e.kind == "user_invited"]
    assert [e.data.get("account") for e in events] == ["exists", None]
    # staff still learn it, and cannot send that recorded invitation's link either
    with pytest.raises(ValidationFailed) as told:
        service.invite(boss.id, "taken@example.com")
    assert told.value.errors["email"] == ["This address already has an account."]
    with pytest.raises(ValidationFailed) as resend:
        service.resend(boss.id, taken.id)
    assert resend.value.detail == "This address already has an account."
    assert world.emails("taken@example.com") == []


def test_a_users_invitations_to_one_address_are_budgeted_whether_or_not_it_has_an_account():
    world, boss, pal = users_invite(ThrottlePolicy())
    add_user(world, "taken@example.com")
    service = world.services.invitations
    for address in ("taken@example.com", "fresh@example.com"):
        for variant in (address, address.upper(), address.title()):
            service.invite(pal.id, variant)
        with pytest.raises(Throttled) as refused:
            service.invite(pal.id, address)
        assert 3500 < refused.value.retry_after <= 3600
    assert len(world.store.invitations) == 6  # the refused ones recorded nothing
    assert len(world.emails("fresh@example.com")) == 3
    # staff are not held by the users' budget (a user cannot use it up to stop them)
    assert service.invite(boss.id, "fresh@example.com").id
    world.clock.advance(hours=1, seconds=1)
    assert service.invite(pal.id, "taken@example.com").id


def test_an_inviter_refused_for_permission_spends_no_budget():
    world, _, _ = users_invite(ThrottlePolicy())
    stranger = add_user(world, "new.user@example.com")  # not verified: may not invite
    for _ in range(5):
        with pytest.raises(PermissionDenied):
            world.services.invitations.invite(stranger.id, "fresh@example.com")
    pal = world.user("pal@example.com")
    assert world.services.invitations.invite(pal.id, "fresh@example.com").id


def test_a_users_invitations_are_budgeted_per_user_and_a_refusal_spends_no_address():
    limits = {**DEFAULT_LIMITS, "invite_per_user": "2/day"}
    world, boss, pal = users_invite(ThrottlePolicy(limits=limits))
    service = world.services.invitations
    service.invite(pal.id, "one@example.com")
    service.invite(pal.id, "two@example.com")
    with pytest.raises(Throttled) as refused:
        service.invite(pal.id, "three@example.com")
    assert 0 < refused.value.retry_after <= 24 * 3600
    assert len(world.store.invitations) == 2 and world.emails("three@example.com") == []
    # the refused address kept its whole budget (3/hour): other users spend all of it
    others = [add_user(world, f"other{n}@example.com", email_verified_at=world.clock.now())
              for n in range(2)]
    for other in (others[0], others[0], others[1]):
        service.invite(other.id, "three@example.com")
    assert service.invite(boss.id, "four@example.com").id
    world.clock.advance(days=1, seconds=1)
    assert service.invite(pal.id, "five@example.com").id


def test_accepting_lifts_the_lockout_of_guesses_made_before_the_account():
    world, boss, _ = users_invite(ThrottlePolicy())
    _, token = invite(world, boss, "new@example.com")
    for _ in range(5):  # guesses at an address that has no account yet: it locks
        with pytest.raises(InvalidCredentials):
            world.login(email="new@example.com", phone=None, password="a guess at it")
    with pytest.raises(Throttled):
        world.login(email="new@example.com", phone=None, password=PASSWORD)
    pair = world.services.invitations.accept_and_sign_in(token, PASSWORD, Door.API).tokens
    assert pair.access


# --- an address registered by someone who never proved it does not block an invitation ----

SQUATTER_PHONE = "+14155552671"


def test_an_address_held_unproven_beside_a_verified_phone_goes_to_the_invitee(world, boss):
    _, token = invite(world, boss)
    squatter = add_user(world, "new@example.com", phone=SQUATTER_PHONE,
                        phone_verified_at=world.clock.now())
    user = world.services.invitations.accept(token, PASSWORD)
    assert user.id != squatter.id and user.email == "new@example.com"
    assert user.email_verified_at is not None
    kept = world.store.users[squatter.id]
    assert (kept.email, kept.phone) == (None, SQUATTER_PHONE)  # their own account stays
    released = [e for e in world.store.audit if e.kind == "unverified_address_released"]
    assert [(e.user_id, e.data["channels"], e.data["via"]) for e in released] == [
        (squatter.id, ["email"], "invitation")]


def test_a_sign_up_that_proved_nothing_is_finished_by_the_invitee(world, boss):
    invitation, token = invite(world, boss, as_staff=True)
    first = world.ports.passwords.hash("the first registrants password")
    pending = add_user(world, "new@example.com", phone=SQUATTER_PHONE, password_hash=first,
                       first_name="Mallory")
    user = world.services.invitations.accept(token, PASSWORD, first_name="Ann")
    assert user.id == pending.id and user.email_verified_at is not None
    assert (user.phone, user.first_name, user.is_staff) == (None, "Ann", True)
    assert user.uniquifier != pending.uniquifier  # the first registrant's sessions end
    with pytest.raises(InvalidCredentials):
        world.login(email="new@example.com", phone=None,
                     password="the first registrants password")
    assert world.login(email="new@example.com", phone=None, password=PASSWORD)
    assert world.store.invitations[invitation.id].accepted_user_id == user.id
    jobs = [m for m in world.store.outbox.values() if m.kind == "stripe_customer"]
    assert [j.payload["user_id"] for j in jobs] == [user.id]


def test_a_refused_accept_takes_nothing_from_the_holder(world, boss):
    _, token = invite(world, boss)
    squatter = add_user(world, "new@example.com", phone=SQUATTER_PHONE,
                        phone_verified_at=world.clock.now())
    with pytest.raises(ValidationFailed):
        world.services.invitations.accept(token, "password")  # too weak
    assert world.store.users[squatter.id].email == "new@example.com"
    assert "unverified_address_released" not in world.audit_kinds()


@pytest.mark.parametrize("closing", ["deactivate", "delete", "erase"])
def test_a_users_invitation_dies_with_the_inviters_account(closing):
    """INVITATIONS_BY_USERS and REGISTRATION=invite: the invitation was the way in, and a
    user whose account is closed vouches for nobody any more. Erasure (inviter NULL, as
    the command line's) withdraws it first."""
    grace = {"erase": replace(Policy(), account_deletion_grace=timedelta(0))}.get(closing)
    world = make_world(replace(grace or Policy(), invitations_by_users=True,
                               registration_open=False))
    staff = add_user(world, "boss@example.com", is_staff=True)
    pal = add_user(world, "pal@example.com", email_verified_at=world.clock.now())
    invitation, token = invite(world, pal)
    if closing == "deactivate":
        world.services.admin.act(staff.id, pal.id, "deactivate")
    else:
        world.services.account_data.request_deletion(pal.id, world.clock.now())
    assert (pal.id in world.store.users) is (closing != "erase")
    with pytest.raises(InvalidToken) as refused:
        world.services.invitations.accept(token, PASSWORD)
    assert refused.value.code == "invitation_revoked"
    assert "new@example.com" not in {u.email for u in world.store.users.values()}
    kept = world.store.invitations[invitation.id]
    assert (kept.revoked_at is not None) is (closing == "erase")


def test_a_link_from_before_the_stamp_opens_only_an_invitation_made_before_it(world, boss):
    """Links sent before they carried the invitation's ``at`` stamp name only its id and
    address: one signed before an invitation was made is for another (an erased one that
    had the id); one signed after it, the kind sent before the upgrade, still works."""
    invitation, _ = invite(world, boss)
    legacy = {"iid": invitation.id, "email": invitation.email}
    world.clock.advance(seconds=-1)
    early = world.ports.signer.dumps("invitation", legacy)
    world.clock.advance(seconds=1)
    with pytest.raises(InvalidToken):
        world.services.invitations.accept(early, PASSWORD)
    sent_then = world.ports.signer.dumps("invitation", legacy)
    assert world.services.invitations.accept(sent_then, PASSWORD).email == "new@example.com"


def test_a_link_names_its_invitations_stamp(world, boss):
    invitation, token = invite(world, boss)
    other = world.ports.signer.dumps("invitation", {"iid": invitation.id,
                                                    "email": invitation.email,
                                                    "at": invitation.stamp() + 1})
    with pytest.raises(InvalidToken):
        world.services.invitations.accept(other, PASSWORD)
    assert world.services.invitations.accept(token, PASSWORD).email == "new@example.com"
