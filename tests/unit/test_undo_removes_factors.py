"""Taking a hijacked account back (the undo link of an address change) takes back the
hijacker's second factors too: passkeys (each one signs in on its own), the authenticator
app and recovery codes (they would lock the owner out), an app still being set up, a
trusted browser and a pending sign-in. Fakes, fake clock."""

from __future__ import annotations

import pytest

from tests.fakes import World, make_world
from tests.fakes.mfa import fake_code, step_at
from tests.fakes.passkeys import FakePasskeyDevice
from tests.helpers.world import EMAIL, PASSWORD, PHONE, verified
from webapp.application.signin import Door
from webapp.application.throttling import ThrottlePolicy
from webapp.domain.errors import (
    InvalidCredentials,
    InvalidToken,
    SecondFactorRequired,
    Throttled,
)
from webapp.domain.values import Channel

HIJACKER = "thief@example.com"
HIJACKER_PHONE = "+14155550199"
NEW_PASSWORD = "a completely new passphrase"


def _hijacked(world: World, channel: Channel = Channel.EMAIL, user_id: int | None = None) -> int:
    """The owner's account (new, or ``user_id``), its address moved to the hijacker's by a
    stolen session."""
    new = HIJACKER if channel is Channel.EMAIL else HIJACKER_PHONE
    if user_id is None:
        user_id = (verified(world) if channel is Channel.EMAIL
                   else verified(world, email=None, phone=PHONE)).id
    world.services.address_changes.request(user_id, channel, new, world.clock.now())
    sent = world.emails(new) if channel is Channel.EMAIL else world.texts(new)
    world.services.address_changes.confirm(user_id, channel,
                                           code=world.field_of(sent[-1], "code"))
    return user_id


def _turn_on_app(world: World, user_id: int) -> str:
    setup = world.services.mfa.start_totp(user_id, world.clock.now())
    world.services.mfa.confirm_totp(user_id, fake_code(setup.secret, step_at(world.clock.now())))
    world.clock.advance(seconds=30)
    return setup.secret


def _enrol(world: World, user_id: int) -> FakePasskeyDevice:
    device = FakePasskeyDevice()
    options = world.services.passkeys.registration_options(user_id, world.clock.now())
    world.services.passkeys.register(user_id, device.create(options), "Thief's phone")
    return device


def _undo(world: World, channel: Channel = Channel.EMAIL) -> None:
    sent = world.emails(EMAIL) if channel is Channel.EMAIL else world.texts(PHONE)
    link = world.field_of(sent[-1], "undo_link")
    world.services.address_changes.undo(link.split("/account/undo/", 1)[1], NEW_PASSWORD,
                                        NEW_PASSWORD)


def test_the_undo_removes_the_hijackers_passkey_app_and_codes_and_says_so(world) -> None:
    user_id = _hijacked(world)
    _turn_on_app(world, user_id)
    device = _enrol(world, user_id)
    early = world.services.passkeys.login_options()  # asked for before the undo
    _undo(world)

    status = world.services.mfa.status(user_id)
    assert (status.totp, status.passkeys, status.recovery_codes_left) == (False, 0, 0)
    assert world.store.users[user_id].mfa_version == ""
    for options in (early, world.services.passkeys.login_options()):
        with pytest.raises(InvalidToken) as refused:  # the hijacker's passkey signs in no more
            world.services.passkeys.sign_in(device.get(options), Door.API)
        assert refused.value.code == "invalid_credential"
    owner, tokens = world.login(EMAIL, password=NEW_PASSWORD)  # no code asked
    assert owner.id == user_id and tokens.access

    removed = [e for e in world.store.audit if e.kind == "mfa_turned_off_by_undo"]
    assert len(removed) == 1 and removed[0].user_id == user_id and removed[0].actor_id is None
    undone = [e for e in world.store.audit if e.kind == "address_change_undone"][-1]
    assert sorted(undone.data["factors_removed"]) == ["passkey", "recovery_code", "totp"]
    notice = world.emails(EMAIL)[-1]
    assert notice.payload["subject"] == "email/password_changed"
    assert world.field_of(notice, "factors_removed") == "True"
    assert world.field_of(notice, "security_link").endswith("/account/security")


def test_by_phone_the_text_says_the_factors_went(world) -> None:
    user_id = _hijacked(world, Channel.PHONE)
    _turn_on_app(world, user_id)
    _undo(world, Channel.PHONE)
    assert not world.store.users[user_id].has_second_factor
    notice = world.texts(PHONE)[-1]
    assert notice.payload["template"] == "password_changed"
    assert world.field_of(notice, "factors_removed") == "True"


def test_an_app_still_being_set_up_goes_too_and_nothing_is_said_of_factors(world) -> None:
    user_id = _hijacked(world)
    world.services.mfa.start_totp(user_id, world.clock.now())  # never confirmed
    _undo(world)
    assert world.services.mfa.pending_totp(user_id) is None
    assert "mfa_turned_off_by_undo" not in world.audit_kinds()
    assert world.field_of(world.emails(EMAIL)[-1], "factors_removed") == "False"


def test_a_pending_sign_in_and_a_trusted_browser_of_the_hijacker_die(world) -> None:
    user_id = _hijacked(world)
    secret = _turn_on_app(world, user_id)
    _enrol(world, user_id)
    trusted = world.services.second_factor.trust(world.store.users[user_id])
    with pytest.raises(SecondFactorRequired) as caught:
        world.services.signin.with_password(email=HIJACKER, phone=None, password=PASSWORD,
                                            door=Door.API)
    token = caught.value.token
    _undo(world)

    with pytest.raises(InvalidToken):  # no passkey options for it: it is dead
        world.services.second_factor.passkey_options(token)
    with pytest.raises(InvalidToken):
        world.services.second_factor.complete(
            token, code=fake_code(secret, step_at(world.clock.now())))
    assert not world.services.second_factor.trusts(trusted, world.store.users[user_id])
    with pytest.raises(InvalidCredentials):  # the hijacker's address and password are gone
        world.login(HIJACKER, password=PASSWORD)


def test_the_undo_lifts_a_lockout_even_when_a_factor_was_on() -> None:
    """Someone locked the owner's address out with wrong passwords; the factor the lockout
    guarded was the hijacker's and is gone: the owner signs in at once."""
    world = make_world(throttle=ThrottlePolicy())
    user_id = _hijacked(world)
    _turn_on_app(world, user_id)
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            world.login(EMAIL, password="not the password at all")
    _undo(world)
    owner, _ = world.login(EMAIL, password=NEW_PASSWORD)
    assert owner.id == user_id


def test_a_passkey_registration_under_way_at_the_undo_adds_nothing(world) -> None:
    """The doors check the session before the service locks the account, so a hijacker's
    registration that passed that check just before the undo reaches the service after
    it: its challenge died with the undo, and nothing is added."""
    user_id = _hijacked(world)
    device = FakePasskeyDevice()
    options = world.services.passkeys.registration_options(user_id, world.clock.now())
    _undo(world)
    with pytest.raises(InvalidToken) as refused:
        world.services.passkeys.register(user_id, device.create(options), "Late")
    assert refused.value.code == "invalid_credential"
    assert world.services.passkeys.passkeys(user_id) == []


def test_the_owners_factors_from_before_the_window_stay_the_hijackers_go() -> None:
    """Factors added more than a day before the change was asked for are the owner's as far
    as anything can tell (each addition since was announced to the owner's address): they
    stay, so the previous address alone never gets past them. The hijacker's passkey, and
    the recovery codes they made again, go; trusted browsers die with the change."""
    world = make_world(throttle=ThrottlePolicy())
    owner = verified(world)
    _turn_on_app(world, owner.id)
    owners_key = _enrol(world, owner.id)
    trusted = world.services.second_factor.trust(world.store.users[owner.id])
    world.clock.advance(days=1, seconds=1)
    user_id = _hijacked(world, user_id=owner.id)
    thiefs_key = _enrol(world, user_id)
    world.services.mfa.regenerate_recovery_codes(user_id, world.clock.now())
    for _ in range(5):  # someone locks the owner's address out with wrong passwords
        with pytest.raises(InvalidCredentials):
            world.login(EMAIL, password="not the password at all")
    _undo(world)

    status = world.services.mfa.status(user_id)
    assert (status.totp, status.passkeys, status.recovery_codes_left) == (True, 1, 0)
    [kept] = world.services.passkeys.passkeys(user_id)
    assert [kept.credential_id] == list(owners_key.credentials)
    assert kept.credential_id not in thiefs_key.credentials
    undone = [e for e in world.store.audit if e.kind == "address_change_undone"][-1]
    assert sorted(undone.data["factors_removed"]) == ["passkey", "recovery_code"]
    assert not world.services.second_factor.trusts(trusted, world.store.users[user_id])
    # The lock counted guesses at a factor that is still on: it stays, as after a reset.
    with pytest.raises(Throttled):
        world.login(EMAIL, password=NEW_PASSWORD)


def test_a_factor_added_within_the_day_before_the_change_goes() -> None:
    world = make_world()
    owner = verified(world)
    _turn_on_app(world, owner.id)
    world.clock.advance(hours=23)
    user_id = _hijacked(world, user_id=owner.id)
    _undo(world)
    assert not world.store.users[user_id].has_second_factor
    owner_again, _ = world.login(EMAIL, password=NEW_PASSWORD)  # no code asked
    assert owner_again.id == user_id


def test_with_an_old_factor_left_the_owner_signs_in_with_it() -> None:
    world = make_world()
    owner = verified(world)
    secret = _turn_on_app(world, owner.id)
    world.clock.advance(days=2)
    _hijacked(world, user_id=owner.id)
    _undo(world)
    with pytest.raises(SecondFactorRequired) as caught:
        world.login(EMAIL, password=NEW_PASSWORD)
    signed_in = world.services.second_factor.complete(
        caught.value.token, code=fake_code(secret, step_at(world.clock.now())))
    assert signed_in.user.id == owner.id and signed_in.tokens is not None
