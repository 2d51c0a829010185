"""Taking a hijacked account back (the undo link of an address change) cancels the
deletion the hijacker asked for while holding it: otherwise the undo answers yes and the
account stays closed, then is erased. A deletion staff asked for stays. Fakes, fake clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes import World, make_world
from tests.helpers.world import EMAIL, verified
from webapp.application.address_change import INVALID_LINK
from webapp.application.policy import Policy
from webapp.domain.errors import InvalidToken
from webapp.domain.values import Channel

HIJACKER = "thief@example.com"
NEW_PASSWORD = "a completely new passphrase"


def _hijacked(world: World) -> int:
    """The owner's account, its email moved to the hijacker's by a stolen session."""
    user_id = verified(world).id or 0
    world.services.address_changes.request(user_id, Channel.EMAIL, HIJACKER, world.clock.now())
    code = world.field_of(world.emails(HIJACKER)[-1], "code")
    world.services.address_changes.confirm(user_id, Channel.EMAIL, code=code)
    return user_id


def _undo_token(world: World) -> str:
    link = world.field_of(world.emails(EMAIL)[-1], "undo_link")
    return link.split("/account/undo/", 1)[1]


def _cancel_token(world: World) -> str:
    link = world.field_of(world.emails(HIJACKER)[-1], "cancel_link")
    return link.split("/account/delete/cancel/", 1)[1]


def test_the_undo_cancels_the_deletion_the_hijacker_asked_for(world) -> None:
    user_id = _hijacked(world)
    token = _undo_token(world)
    world.clock.advance(minutes=5)
    world.services.account_data.request_deletion(user_id, world.clock.now())
    hijackers_cancel = _cancel_token(world)
    world.clock.advance(hours=1)

    world.services.address_changes.undo(token, NEW_PASSWORD, NEW_PASSWORD)

    user = world.store.users[user_id]
    assert user.is_active and user.deletion_due_at is None and user.email == EMAIL
    owner, tokens = world.login(EMAIL, password=NEW_PASSWORD)
    assert owner.id == user_id and tokens.access
    cancelled = [e for e in world.store.audit if e.kind == "account_delete_cancelled"]
    assert [e.data.get("reason") for e in cancelled] == ["address_change_undone"]
    undone = next(e for e in world.store.audit if e.kind == "address_change_undone")
    assert undone.data["deletion_cancelled"] is True
    notice = world.emails(EMAIL)[-1]
    assert notice.payload["subject"] == "email/password_changed"
    assert world.field_of(notice, "deletion_cancelled") == "True"
    with pytest.raises(InvalidToken):  # the hijacker's own cancel link is spent with it
        world.services.account_data.cancel_deletion(hijackers_cancel)
    world.clock.advance(days=8)
    world.services.delivery.deliver_due("w")
    assert user_id in world.store.users  # the erasure job found nothing due


def test_a_deletion_staff_asked_for_stays_after_the_undo(world) -> None:
    user_id = _hijacked(world)
    token = _undo_token(world)
    due = world.services.account_data.delete_by_staff(HIJACKER)

    world.services.address_changes.undo(token, NEW_PASSWORD, NEW_PASSWORD)

    user = world.store.users[user_id]
    assert not user.is_active and user.deletion_due_at == due
    assert "account_delete_cancelled" not in world.audit_kinds()
    assert world.field_of(world.emails(EMAIL)[-1], "deletion_cancelled") == "False"


def test_a_plain_undo_says_nothing_of_a_deletion(world) -> None:
    user_id = _hijacked(world)
    world.services.address_changes.undo(_undo_token(world), NEW_PASSWORD, NEW_PASSWORD)
    assert world.store.users[user_id].is_active
    assert "account_delete_cancelled" not in world.audit_kinds()
    assert world.field_of(world.emails(EMAIL)[-1], "deletion_cancelled") == "False"


def test_once_the_account_is_erased_the_undo_link_is_dead() -> None:
    world = make_world(policy=Policy(account_deletion_grace=timedelta(days=1)))
    user_id = _hijacked(world)
    token = _undo_token(world)
    world.services.account_data.request_deletion(user_id, world.clock.now())
    world.clock.advance(days=1, seconds=1)  # the undo link has 6 days left
    world.services.delivery.deliver_due("w")
    assert user_id not in world.store.users
    with pytest.raises(InvalidToken) as refused:
        world.services.address_changes.undo(token, NEW_PASSWORD, NEW_PASSWORD)
    assert str(refused.value) == INVALID_LINK
