"""Second factor rules with a fake clock: set-up, replay of a step, drift, recovery codes,
the pending sign-in (one use, 5 tries, 5 minutes, dies with the password), trusted
browsers, recent sign-in, and what the user is told."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes.mfa import fake_code, step_at
from tests.helpers.world import EMAIL, PASSWORD, verified
from webapp.application.signin import Door
from webapp.application.throttling import ThrottlePolicy
from webapp.domain.errors import (
    Conflict,
    InvalidCredentials,
    InvalidToken,
    ReauthenticationRequired,
    SecondFactorRequired,
    Throttled,
    ValidationFailed,
)


def now_code(world, secret, steps=0):
    return fake_code(secret, step_at(world.clock.now()) + steps)


def turn_on(world, user):
    """An authenticator app confirmed for ``user``: (secret, recovery codes)."""
    setup = world.services.mfa.start_totp(user.id, world.clock.now())
    codes = world.services.mfa.confirm_totp(user.id, now_code(world, setup.secret))
    world.clock.advance(seconds=30)  # the confirming step is spent
    return setup.secret, codes


def pending(world, **how):
    with pytest.raises(SecondFactorRequired) as caught:
        world.services.signin.with_password(email=EMAIL, phone=None, password=PASSWORD,
                                            door=how.get("door", Door.API),
                                            trusted=how.get("trusted"))
    return caught.value


def complete(world, token, **proof):
    return world.services.second_factor.complete(token, **proof)


# --- setting up -------------------------------------------------------------------------------


def test_setup_is_pending_until_a_right_code_confirms_it(world):
    user = verified(world)
    setup = world.services.mfa.start_totp(user.id, world.clock.now())
    assert setup.secret and setup.otpauth_uri.startswith("otpauth://totp/")
    assert EMAIL in setup.otpauth_uri and setup.qr_svg.startswith("<svg")
    stored = next(iter(world.store.totp.values()))
    assert stored.secret != setup.secret and setup.secret not in stored.secret  # sealed
    assert world.services.mfa.status(user.id).totp is False
    world.login(email=EMAIL, password=PASSWORD)  # still one step
    with pytest.raises(InvalidToken) as wrong:
        world.services.mfa.confirm_totp(user.id, "000000")
    assert wrong.value.code == "invalid_code"
    codes = world.services.mfa.confirm_totp(user.id, now_code(world, setup.secret))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert world.services.mfa.status(user.id).totp is True
    assert world.services.mfa.status(user.id).recovery_codes_left == 10
    assert world.user(email=EMAIL).has_second_factor
    assert world.emails(EMAIL)[-1].payload["template"] == "security_change"
    assert "mfa_totp_added" in world.audit_kinds()
    with pytest.raises(Conflict):
        world.services.mfa.start_totp(user.id, world.clock.now())


def test_setting_up_and_removing_need_a_recent_sign_in(world):
    user = verified(world)
    stale = world.clock.now() - timedelta(seconds=301)
    with pytest.raises(ReauthenticationRequired):
        world.services.mfa.start_totp(user.id, stale)
    with pytest.raises(ReauthenticationRequired):
        world.services.mfa.start_totp(user.id, None)
    turn_on(world, user)
    with pytest.raises(ReauthenticationRequired):
        world.services.mfa.disable_totp(user.id, world.clock.now() - timedelta(minutes=6))
    with pytest.raises(ReauthenticationRequired):
        world.services.mfa.regenerate_recovery_codes(user.id, None)


def test_removing_the_last_factor_kills_the_recovery_codes_and_tells_the_user(world):
    user = verified(world)
    _, codes = turn_on(world, user)
    world.services.mfa.disable_totp(user.id, world.clock.now())
    status = world.services.mfa.status(user.id)
    assert (status.totp, status.recovery_codes_left) == (False, 0)
    assert not world.user(email=EMAIL).has_second_factor
    assert world.login(email=EMAIL, password=PASSWORD)  # one step again
    assert world.emails(EMAIL)[-1].payload["template"] == "security_change"
    with pytest.raises(Conflict):
        world.services.mfa.disable_totp(user.id, world.clock.now())
    with pytest.raises(Conflict):
        world.services.mfa.regenerate_recovery_codes(user.id, world.clock.now())


# --- codes: once each, one step of drift --------------------------------------------------------


def test_a_code_is_accepted_once_and_its_step_never_again(world):
    user = verified(world)
    secret, _ = turn_on(world, user)
    code = now_code(world, secret)
    complete(world, pending(world).token, code=code)
    with pytest.raises(InvalidToken):  # the same code, a new sign-in: replay
        complete(world, pending(world).token, code=code)
    with pytest.raises(InvalidToken):  # an older step than the one used
        complete(world, pending(world).token, code=now_code(world, secret, -1))


@pytest.mark.parametrize("steps", [-1, 1])
def test_one_step_of_drift_either_way_is_accepted(world, steps):
    user = verified(world)
    secret, _ = turn_on(world, user)
    world.clock.advance(seconds=60)
    assert complete(world, pending(world).token, code=now_code(world, secret, steps)).tokens


@pytest.mark.parametrize("steps", [-2, 2])
def test_two_steps_off_is_refused(world, steps):
    user = verified(world)
    secret, _ = turn_on(world, user)
    world.clock.advance(seconds=90)
    with pytest.raises(InvalidToken):
        complete(world, pending(world).token, code=now_code(world, secret, steps))


def test_a_recovery_code_works_once_and_new_ones_kill_the_old(world):
    user = verified(world)
    _, codes = turn_on(world, user)
    signed_in = complete(world, pending(world).token, recovery_code=codes[0].upper())
    assert signed_in.user.email == EMAIL
    with pytest.raises(InvalidToken):
        complete(world, pending(world).token, recovery_code=codes[0])
    assert world.services.mfa.status(user.id).recovery_codes_left == 9
    fresh = world.services.mfa.regenerate_recovery_codes(user.id, world.clock.now())
    with pytest.raises(InvalidToken):
        complete(world, pending(world).token, recovery_code=codes[1])
    assert complete(world, pending(world).token, recovery_code=fresh[0])


def test_fewer_than_three_recovery_codes_left_is_said(world):
    user = verified(world)
    _, codes = turn_on(world, user)
    for code in codes[:8]:
        complete(world, pending(world).token, recovery_code=code)
    texts = [m.payload["text"] for m in world.emails(EMAIL)[-8:]]
    assert "Only 2 are left" in texts[-1] and "left" not in texts[0]
    for code in codes[8:]:
        complete(world, pending(world).token, recovery_code=code)
    last_two = [m.payload["text"] for m in world.emails(EMAIL)[-2:]]
    assert "Only 1 is left:" in last_two[0] and "None are left:" in last_two[1]


# --- the pending sign-in --------------------------------------------------------------------------


def test_nothing_says_there_is_a_second_factor_before_the_password_is_right(world):
    user = verified(world)
    turn_on(world, user)
    with pytest.raises(InvalidCredentials):
        world.login(email=EMAIL, password="not the password at all")
    assert "authn_mfa_required" not in world.audit_kinds()
    assert pending(world).methods == ["totp", "recovery_code"]


def test_the_pending_sign_in_is_recorded_only_once_the_factor_is_proven(world):
    user = verified(world)
    secret, _ = turn_on(world, user)
    families = dict(world.store.families)
    token = pending(world).token
    assert world.store.families == families  # no tokens yet
    signed_in = complete(world, token, code=now_code(world, secret))
    assert signed_in.tokens is not None
    assert world.audit_kinds()[-1] == "authn_login_success"
    assert "authn_mfa_success" in world.audit_kinds()
    with pytest.raises(InvalidToken):  # single use
        complete(world, token, code=now_code(world, secret, 1))


def test_the_token_dies_after_five_wrong_codes(world):
    user = verified(world)
    secret, _ = turn_on(world, user)
    token = pending(world).token
    for _ in range(5):
        with pytest.raises(InvalidToken):
            complete(world, token, code="000000")
    with pytest.raises(InvalidToken):  # even the right one now
        complete(world, token, code=now_code(world, secret))
    assert world.audit_kinds().count("authn_mfa_fail") == 5


def test_the_token_lives_five_minutes(world):
    user = verified(world)
    secret, _ = turn_on(world, user)
    token = pending(world).token
    world.clock.advance(minutes=5, seconds=1)
    with pytest.raises(InvalidToken):
        complete(world, token, code=now_code(world, secret))


def test_the_token_dies_when_the_password_changes(world):
    user = verified(world)
    secret, _ = turn_on(world, user)
    token = pending(world).token
    world.services.accounts.change_password(user.id, PASSWORD, "another long passphrase",
                                            "another long passphrase",
                                            auth_time=world.clock.now())
    with pytest.raises(InvalidToken):  # for every use: no passkey options for it either
        world.services.second_factor.passkey_options(token)
    with pytest.raises(InvalidToken):
        complete(world, token, code=now_code(world, secret))


def test_a_token_from_the_login_page_is_no_api_token(world):
    user = verified(world)
    secret, _ = turn_on(world, user)
    token = pending(world, door=Door.BROWSER).token
    with pytest.raises(InvalidToken):
        world.services.second_factor.complete(token, code=now_code(world, secret),
                                              door=Door.API)


def test_wrong_codes_count_toward_the_account_lockout():
    from tests.fakes import make_world

    world = make_world(throttle=ThrottlePolicy())
    user = verified(world)
    secret, _ = turn_on(world, user)
    for _ in range(2):
        token = pending(world).token
        for _ in range(2 if world.audit_kinds().count("authn_mfa_fail") else 3):
            with pytest.raises(InvalidToken):
                complete(world, token, code="000000")
    with pytest.raises(Throttled):  # 5 wrong codes: the account's logins are locked
        complete(world, pending(world).token, code=now_code(world, secret))


# --- trusted browsers -----------------------------------------------------------------------------


def test_a_trusted_browser_skips_the_code_until_a_factor_or_the_password_changes(world):
    user = verified(world)
    secret, _ = turn_on(world, user)
    signed_in = complete(world, pending(world, door=Door.BROWSER).token,
                         code=now_code(world, secret))
    trusted = world.services.second_factor.trust(signed_in.user)
    assert world.services.signin.with_password(email=EMAIL, phone=None, password=PASSWORD,
                                               door=Door.BROWSER, trusted=trusted)
    assert pending(world, trusted=trusted + "x")  # tampered: just untrusted
    world.clock.advance(days=31)
    assert pending(world, trusted=trusted)  # expired
    world.clock.advance(days=-31)
    world.services.mfa.disable_totp(user.id, world.clock.now())
    world.clock.advance(seconds=30)
    again, _ = turn_on(world, user)  # a factor changed: the cookie dies
    assert pending(world, trusted=trusted)
    del again


def test_new_recovery_codes_end_every_trusted_browser(world):
    # Someone who signed in with the password and a stolen recovery code, "don't ask again"
    # ticked, kept skipping the second step after the owner made new codes to lock them
    # out. As in allauth, new codes are a change of the factors: every browser asks again.
    user = verified(world)
    _, codes = turn_on(world, user)
    signed_in = complete(world, pending(world, door=Door.BROWSER).token,
                         recovery_code=codes[0])
    trusted = world.services.second_factor.trust(signed_in.user)
    assert world.services.signin.with_password(email=EMAIL, phone=None, password=PASSWORD,
                                               door=Door.BROWSER, trusted=trusted)
    world.services.mfa.regenerate_recovery_codes(user.id, world.clock.now())
    assert pending(world, door=Door.BROWSER, trusted=trusted)


# --- re-authentication ----------------------------------------------------------------------------


def test_reauthenticating_with_the_password_or_a_code(world):
    user = verified(world)
    secret, _ = turn_on(world, user)
    world.clock.advance(minutes=10)
    at = world.services.second_factor.reauthenticate(user.id, password=PASSWORD)
    assert at == world.clock.now()
    with pytest.raises(ValidationFailed) as wrong:
        world.services.second_factor.reauthenticate(user.id, password="not it at all")
    assert list(wrong.value.errors) == ["password"]
    assert world.services.second_factor.reauthenticate(user.id, code=now_code(world, secret))
    with pytest.raises(InvalidToken):  # that step is spent
        world.services.second_factor.reauthenticate(user.id, code=now_code(world, secret))
    assert "authn_reauth_fail" in world.audit_kinds()


# --- staff ----------------------------------------------------------------------------------------


def test_staff_turn_off_second_factors_with_a_reason_and_the_user_is_told(world):
    user = verified(world)
    turn_on(world, user)
    with world.ports.uow() as uow:
        target = uow.users.get(user.id)
        assert world.services.mfa.turn_off(uow, target, None, "lost phone") is True
        uow.commit()
    assert not world.user(email=EMAIL).has_second_factor
    assert world.services.mfa.status(user.id).recovery_codes_left == 0
    event = [e for e in world.store.audit if e.kind == "mfa_turned_off_by_staff"][-1]
    assert event.data == {"reason": "lost phone"}
    assert "staff turned off" in world.emails(EMAIL)[-1].payload["text"]


def test_with_limits_on_a_pending_sign_in_gives_back_the_check_slot():
    # One password check per identifier at a time: the password step must give the slot
    # back while the second factor is pending, or the right code would be refused (429).
    from tests.fakes import make_world

    world = make_world(throttle=ThrottlePolicy())
    user = verified(world)
    secret, _ = turn_on(world, user)
    token = pending(world).token
    assert complete(world, token, code=now_code(world, secret)).tokens
    world.clock.advance(seconds=30)
    assert world.services.second_factor.reauthenticate(user.id, code=now_code(world, secret))
    assert pending(world).token  # and the next sign-in is not refused either


def test_a_secret_no_configured_key_opens_is_a_clear_503_not_a_crash(world):
    from webapp.domain.errors import ServiceUnavailable

    user = verified(world)
    secret, codes = turn_on(world, user)
    for device in world.store.totp.values():
        device.secret = "sealed with a key that is gone"
    token = pending(world).token
    with pytest.raises(ServiceUnavailable):
        complete(world, token, code=now_code(world, secret))
    assert complete(world, token, recovery_code=codes[0]).tokens  # the way round it


@pytest.mark.parametrize("step", ["sign-in", "reauthentication"])
def test_a_fault_while_a_code_is_checked_gives_the_check_slot_back(step):
    # A 503 (the database restarting, a secret no key opens) after the code's check slot
    # was taken must not leave the identifier refused (429) until the slot expires.
    from tests.fakes import make_world
    from webapp.domain.errors import ServiceUnavailable

    world = make_world(throttle=ThrottlePolicy())
    user = verified(world)
    secret, _ = turn_on(world, user)
    factor = world.services.second_factor
    token = pending(world).token
    real = factor.mfa.prove

    def unavailable(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise ServiceUnavailable("the database is restarting")

    factor.mfa.prove = unavailable
    with pytest.raises(ServiceUnavailable):
        if step == "sign-in":
            complete(world, token, code=now_code(world, secret))
        else:
            factor.reauthenticate(user.id, code=now_code(world, secret))
    factor.mfa.prove = real
    if step == "sign-in":
        assert complete(world, token, code=now_code(world, secret)).tokens  # not a 429
    else:
        assert factor.reauthenticate(user.id, code=now_code(world, secret))
