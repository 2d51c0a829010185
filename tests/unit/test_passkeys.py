"""Passkey rules with fakes: enrolling (recent sign-in, at most 10, a challenge used once
for 5 minutes and only by its user), the passwordless sign-in (user verification needed),
the second factor and re-authentication, the counter, and what removing one does."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes.passkeys import FakePasskeyDevice
from tests.helpers.world import EMAIL, PASSWORD, verified
from webapp.application.signin import Door
from webapp.domain.errors import (
    Conflict,
    InvalidCredentials,
    InvalidToken,
    NotFound,
    ReauthenticationRequired,
    SecondFactorRequired,
)

OTHER = "other@example.com"


def enrol(world, user, device=None, name="Laptop"):
    device = device or FakePasskeyDevice()
    options = world.services.passkeys.registration_options(user.id, world.clock.now())
    passkey = world.services.passkeys.register(user.id, device.create(options), name)
    return device, passkey


def refusals(world):
    return [e.data["reason"] for e in world.store.audit if e.kind == "passkey_refused"]


def refused(call, *args, **kwargs):
    with pytest.raises(InvalidToken) as caught:
        call(*args, **kwargs)
    assert caught.value.code == "invalid_credential"


def test_enrolling_makes_a_second_factor_and_tells_the_user(world):
    user = verified(world)
    version = world.user(email=EMAIL).mfa_version
    device, passkey = enrol(world, user, name="  My   phone ")
    assert passkey.name == "My phone" and passkey.id is not None
    assert [p.name for p in world.services.passkeys.passkeys(user.id)] == ["My phone"]
    assert world.services.mfa.status(user.id).passkeys == 1
    assert world.user(email=EMAIL).mfa_version not in ("", version)
    assert "passkey (My phone) was added" in world.emails(EMAIL)[-1].payload["text"]
    assert "mfa_passkey_added" in world.audit_kinds()
    with pytest.raises(SecondFactorRequired) as pending:
        world.login(email=EMAIL, password=PASSWORD)
    assert pending.value.methods == ["passkey"]


def test_enrolling_needs_a_recent_sign_in(world):
    user = verified(world)
    with pytest.raises(ReauthenticationRequired):
        world.services.passkeys.registration_options(
            user.id, world.clock.now() - timedelta(seconds=301))


def test_the_same_user_handle_for_every_passkey_and_the_old_ones_excluded(world):
    user = verified(world)
    device, first = enrol(world, user)
    options = world.services.passkeys.registration_options(user.id, world.clock.now())
    assert options["user"]["id"] == first.user_handle
    assert options["excludeCredentials"] == [{"id": first.credential_id, "type": "public-key"}]


def test_at_most_ten_passkeys(world):
    user = verified(world)
    for n in range(10):
        enrol(world, user, name=f"Key {n}")
    with pytest.raises(Conflict):
        world.services.passkeys.registration_options(user.id, world.clock.now())


def test_a_registration_challenge_is_used_once_and_lives_five_minutes(world):
    user = verified(world)
    device = FakePasskeyDevice()
    options = world.services.passkeys.registration_options(user.id, world.clock.now())
    credential = device.create(options)
    world.services.passkeys.register(user.id, credential, "one")
    refused(world.services.passkeys.register, user.id, device.create(options), "again")
    assert refusals(world) == ["spent_challenge"]
    late = world.services.passkeys.registration_options(user.id, world.clock.now())
    world.clock.advance(seconds=301)
    refused(world.services.passkeys.register, user.id, device.create(late), "late")
    assert refusals(world)[-1] == "expired_challenge"
    assert len(world.services.passkeys.passkeys(user.id)) == 1
    world.services.passkeys.login_options()  # expired challenges are forgotten meanwhile
    assert len(world.store.webauthn_challenges) == 1


def test_a_challenge_is_bound_to_its_user_and_its_origin(world):
    user = verified(world)
    other = verified(world, email=OTHER)
    options = world.services.passkeys.registration_options(user.id, world.clock.now())
    refused(world.services.passkeys.register, other.id, FakePasskeyDevice().create(options),
            "stolen")
    assert refusals(world) == ["challenge_of_another_user"]
    options = world.services.passkeys.registration_options(user.id, world.clock.now())
    evil = FakePasskeyDevice(origin="https://evil.example")
    refused(world.services.passkeys.register, user.id, evil.create(options), "phish")
    assert refusals(world)[-1] == "not_verified"
    assert world.services.passkeys.passkeys(user.id) == []


@pytest.mark.parametrize("junk", [None, "text", [], {"id": 3}, {"id": "x"}])
def test_a_malformed_credential_is_refused_and_audited(world, junk):
    user = verified(world)
    world.services.passkeys.registration_options(user.id, world.clock.now())
    refused(world.services.passkeys.register, user.id, junk, "junk")
    refused(world.services.passkeys.sign_in, junk, Door.API)
    assert refusals(world) == ["malformed", "malformed"]


# --- the passwordless sign-in ---------------------------------------------------------------


def test_a_passkey_with_user_verification_signs_in_alone(world):
    user = verified(world)
    device, passkey = enrol(world, user)
    options = world.services.passkeys.login_options()
    assert options["allowCredentials"] == [] and options["userVerification"] == "required"
    world.clock.advance(seconds=60)
    signed_in = world.services.passkeys.sign_in(device.get(options), Door.API)
    assert signed_in.user.id == user.id and signed_in.tokens is not None
    assert "authn_passkey_login" in world.audit_kinds()
    assert "authn_login_success" in world.audit_kinds()
    stored = world.services.passkeys.passkeys(user.id)[0]
    assert stored.sign_count == 1 and stored.last_used_at == world.clock.now()
    browser = world.services.passkeys.sign_in(
        device.get(world.services.passkeys.login_options()), Door.BROWSER)
    assert browser.user.id == user.id and browser.tokens is None


def test_without_user_verification_a_passkey_does_not_sign_in_alone(world):
    user = verified(world)
    device, _ = enrol(world, user, device=FakePasskeyDevice(uv=False))
    refused(world.services.passkeys.sign_in,
            device.get(world.services.passkeys.login_options()), Door.API)
    assert refusals(world) == ["not_verified"]


def test_a_login_challenge_is_used_once(world):
    user = verified(world)
    device, _ = enrol(world, user)
    credential = device.get(world.services.passkeys.login_options())
    world.services.passkeys.sign_in(credential, Door.API)
    refused(world.services.passkeys.sign_in, credential, Door.API)
    assert refusals(world) == ["spent_challenge"]


def test_a_counter_that_goes_backwards_is_refused_and_audited(world):
    user = verified(world)
    device, _ = enrol(world, user)
    for _ in range(3):
        world.services.passkeys.sign_in(device.get(world.services.passkeys.login_options()),
                                        Door.API)
    clone = FakePasskeyDevice()
    clone.credentials = {cid: dict(held, count=1) for cid, held in device.credentials.items()}
    refused(world.services.passkeys.sign_in,
            clone.get(world.services.passkeys.login_options()), Door.API)
    event = [e for e in world.store.audit if e.kind == "passkey_refused"][-1]
    assert event.data["reason"] == "counter_regressed" and event.user_id == user.id
    assert event.data["stored"] == 3 and event.data["received"] == 2
    assert world.services.passkeys.passkeys(user.id)[0].sign_count == 3


def test_a_credential_whose_backup_eligibility_changes_is_refused(world):
    user = verified(world)
    device, _ = enrol(world, user)
    credential = device.get(world.services.passkeys.login_options())
    credential["be"] = False
    refused(world.services.passkeys.sign_in, credential, Door.API)
    assert refusals(world) == ["backup_eligibility_changed"]


def test_authenticators_without_a_counter_keep_sending_zero(world):
    user = verified(world)
    device, _ = enrol(world, user, device=FakePasskeyDevice(counter=False))
    for _ in range(2):
        world.services.passkeys.sign_in(device.get(world.services.passkeys.login_options()),
                                        Door.API)


def test_an_unknown_credential_or_a_deactivated_account_does_not_sign_in(world):
    user = verified(world)
    device, passkey = enrol(world, user)
    world.services.passkeys.remove(user.id, passkey.id, world.clock.now())
    refused(world.services.passkeys.sign_in,
            device.get(world.services.passkeys.login_options()), Door.API)
    assert refusals(world) == ["unknown_credential"]
    device, _ = enrol(world, user)
    with world.ports.uow() as uow:
        stored = uow.users.get(user.id)
        stored.is_active = False
        uow.users.save(stored)
        uow.commit()
    with pytest.raises(InvalidCredentials):
        world.services.passkeys.sign_in(device.get(world.services.passkeys.login_options()),
                                        Door.API)


# --- as a second factor, and to re-authenticate ---------------------------------------------


def test_a_passkey_is_a_second_factor_after_the_password(world):
    user = verified(world)
    device, _ = enrol(world, user, device=FakePasskeyDevice(uv=False))
    with pytest.raises(SecondFactorRequired) as pending:
        world.login(email=EMAIL, password=PASSWORD)
    token = pending.value.token
    options = world.services.second_factor.passkey_options(token)
    assert [c["id"] for c in options["allowCredentials"]] == list(device.credentials)
    signed_in = world.services.second_factor.complete(token, credential=device.get(options))
    assert signed_in.tokens is not None
    assert [e.data for e in world.store.audit if e.kind == "authn_mfa_success"] == [
        {"method": "passkey"}]


def test_another_users_passkey_is_no_second_factor(world):
    user = verified(world)
    enrol(world, user)
    other = verified(world, email=OTHER)
    thief, _ = enrol(world, other)
    with pytest.raises(SecondFactorRequired) as pending:
        world.login(email=EMAIL, password=PASSWORD)
    token = pending.value.token
    options = world.services.second_factor.passkey_options(token)
    refused(world.services.second_factor.complete, token, credential=thief.get(options))
    assert refusals(world) == ["credential_of_another_user"]
    assert "authn_mfa_fail" in world.audit_kinds()


def test_a_login_challenge_does_not_pass_a_second_factor(world):
    user = verified(world)
    device, _ = enrol(world, user)
    with pytest.raises(SecondFactorRequired) as pending:
        world.login(email=EMAIL, password=PASSWORD)
    credential = device.get(world.services.passkeys.login_options())
    refused(world.services.second_factor.complete, pending.value.token, credential=credential)
    assert refusals(world) == ["unknown_challenge"]


def test_reauthenticating_with_a_passkey(world):
    user = verified(world)
    device, _ = enrol(world, user)
    world.clock.advance(seconds=600)
    options = world.services.second_factor.reauthentication_options(user.id)
    at = world.services.second_factor.reauthenticate(user.id, credential=device.get(options))
    assert at == world.clock.now()
    event = [e for e in world.store.audit if e.kind == "authn_reauthenticated"][-1]
    assert event.data == {"method": "passkey"}
    refused(world.services.second_factor.reauthenticate, user.id,
            credential=device.get(world.services.passkeys.login_options()))


# --- removing --------------------------------------------------------------------------------


def test_removing_the_last_factor_kills_the_recovery_codes(world):
    user = verified(world)
    _, first = enrol(world, user, name="one")
    _, second = enrol(world, user, name="two")
    world.services.mfa.regenerate_recovery_codes(user.id, world.clock.now())
    world.services.passkeys.remove(user.id, first.id, world.clock.now())
    assert world.services.mfa.status(user.id).recovery_codes_left == 10
    assert world.user(email=EMAIL).has_second_factor
    world.services.passkeys.remove(user.id, second.id, world.clock.now())
    assert world.services.mfa.status(user.id).recovery_codes_left == 0
    assert not world.user(email=EMAIL).has_second_factor
    assert "passkey (two) was removed" in world.emails(EMAIL)[-1].payload["text"]
    world.login(email=EMAIL, password=PASSWORD)  # one step again


def test_removing_needs_a_recent_sign_in_and_ones_own_passkey(world):
    user = verified(world)
    _, passkey = enrol(world, user)
    other = verified(world, email=OTHER)
    with pytest.raises(ReauthenticationRequired):
        world.services.passkeys.remove(user.id, passkey.id,
                                       world.clock.now() - timedelta(seconds=301))
    with pytest.raises(NotFound):
        world.services.passkeys.remove(other.id, passkey.id, world.clock.now())
    assert len(world.services.passkeys.passkeys(user.id)) == 1


def test_staff_turning_off_second_factors_removes_passkeys(world):
    user = verified(world)
    enrol(world, user)
    with world.ports.uow() as uow:
        assert world.services.mfa.turn_off(uow, uow.users.get(user.id), None, "lost") is True
        uow.commit()
    assert world.services.passkeys.passkeys(user.id) == []
    assert not world.user(email=EMAIL).has_second_factor


def test_removing_the_authenticator_app_keeps_recovery_codes_while_a_passkey_is_left(world):
    from tests.fakes.mfa import fake_code, step_at

    user = verified(world)
    setup = world.services.mfa.start_totp(user.id, world.clock.now())
    world.services.mfa.confirm_totp(user.id, fake_code(setup.secret,
                                                       step_at(world.clock.now())))
    enrol(world, user)
    world.services.mfa.disable_totp(user.id, world.clock.now())
    assert world.services.mfa.status(user.id).recovery_codes_left == 10
    assert world.services.mfa.status(user.id).passkeys == 1
    assert world.user(email=EMAIL).has_second_factor
