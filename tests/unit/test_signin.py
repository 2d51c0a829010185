"""The sign-in pipeline's shape: the stages run in order, a check added to
``SignInService.checks`` can stop a sign-in after the password and before anything is
recorded, and ``finish`` later records it and issues what the door gets (the place a
second factor plugs in)."""

from __future__ import annotations

import pytest

from tests.helpers.world import EMAIL, PASSWORD, PHONE, verified
from webapp.application.signin import Door, SignIn
from webapp.domain.errors import DomainError, InvalidCredentials
from webapp.domain.values import Channel


class Paused(DomainError):
    code = "paused"


def test_the_checks_are_the_password_then_the_account_then_the_second_factor(world):
    signin = world.services.signin
    assert signin.checks == [signin.check_password, signin.check_account,
                             world.services.second_factor.check]


def test_a_check_added_after_the_password_sees_the_user_and_stops_before_any_record(world):
    verified(world)
    seen: list[SignIn] = []

    def second_step(attempt: SignIn) -> None:
        seen.append(attempt)
        raise Paused("a second step is pending")

    world.services.signin.checks.append(second_step)
    with pytest.raises(Paused):
        world.login(email=EMAIL, password=PASSWORD)
    [attempt] = seen
    assert attempt.user is not None and attempt.user.email == EMAIL
    assert attempt.verified_hash == attempt.user.password_hash  # the password was right
    assert (attempt.door, attempt.channel) == (Door.API, Channel.EMAIL)
    # nothing recorded: no family, no login event, no last login
    assert world.store.families == {}
    assert "authn_login_success" not in world.audit_kinds()
    assert world.user(email=EMAIL).last_login_at is None

    # ... and finishing that same attempt later records it and issues the door's tokens.
    signed_in = world.services.signin.finish(attempt)
    assert signed_in is not None and signed_in.tokens is not None
    assert world.services.tokens.user_for_access(signed_in.tokens.access).email == EMAIL
    assert world.audit_kinds()[-1] == "authn_login_success"
    assert list(world.store.families) and world.user(email=EMAIL).last_login_at is not None


def test_a_wrong_password_never_reaches_a_later_check(world):
    verified(world)
    reached: list[SignIn] = []
    world.services.signin.checks.append(reached.append)
    with pytest.raises(InvalidCredentials):
        world.login(email=EMAIL, password="not the password at all")
    with pytest.raises(InvalidCredentials):
        world.login(email="nobody@example.com", password=PASSWORD)
    assert reached == []


@pytest.mark.parametrize("door", list(Door))
def test_each_door_is_issued_its_own_kind_of_sign_in(world, door):
    verified(world, email=None, phone=PHONE)
    signed_in = world.services.signin.with_password(email=None, phone=PHONE,
                                                    password=PASSWORD, door=door)
    assert signed_in.user.phone == PHONE
    assert (signed_in.tokens is not None) == (door is Door.API)
    assert (len(world.store.families) == 1) == (door is Door.API)


def test_a_fault_mid_check_gives_the_identifiers_check_slot_back():
    # One password check per identifier at a time (issue 20): a database fault after the
    # slot was taken (a 503 while the database restarts) must not leave the identifier
    # refused until the slot expires.
    from tests.fakes import make_world
    from webapp.application.throttling import ThrottlePolicy

    world = make_world(throttle=ThrottlePolicy())
    verified(world)
    signin = world.services.signin
    real = signin.logins.find_user

    def restarting(*args):  # noqa: ANN002, ANN202
        raise ConnectionError("the database is restarting")

    signin.logins.find_user = restarting
    with pytest.raises(ConnectionError):
        world.login(email=EMAIL, password=PASSWORD)
    signin.logins.find_user = real
    assert world.login(email=EMAIL, password=PASSWORD)[1].access  # not a 429
