"""TokenService: credentials, rotating refresh families, reuse detection, logout, sessions."""

from __future__ import annotations

import pytest

from tests.fakes import FakePasswordHasher
from tests.helpers.world import EMAIL, PASSWORD, PHONE, register, verified
from webapp.application.tokens import session_version
from webapp.domain.errors import (
    AuthenticationRequired,
    InvalidCredentials,
    InvalidToken,
    Unverified,
    ValidationFailed,
)


def login(world, email=EMAIL, password=PASSWORD, phone=None):
    return world.login(email=email, phone=phone, password=password)


def deactivate(world, email=EMAIL):
    user = world.user(email=email)
    user.is_active = False
    world.store.users[user.id] = user


# --- credentials -------------------------------------------------------------------------


def test_login_returns_the_user_and_a_pair(world):
    verified(world)
    user, pair = login(world, email="JANE@example.com")
    assert user.email == EMAIL
    assert world.user(email=EMAIL).last_login_at == world.clock.now()
    assert world.services.tokens.user_for_access(pair.access).id == user.id
    [family] = world.store.families.values()
    assert (family.user_id, family.generation, family.ip, family.user_agent) == (
        user.id, 0, "192.0.2.1", "pytest")
    assert world.audit_kinds()[-1] == "authn_login_success"


def test_login_by_phone(world):
    verified(world, email=None, phone=PHONE)
    user, _ = login(world, email=None, phone="(415) 555-0123")
    assert user.phone == PHONE


def test_login_needs_exactly_one_identifier(world):
    with pytest.raises(ValidationFailed):
        login(world, email=EMAIL, phone=PHONE)
    with pytest.raises(ValidationFailed):
        login(world, email=None)


def test_unknown_user_and_wrong_password_look_the_same_and_cost_the_same(world):
    verified(world)
    before = world.hasher.verifications
    with pytest.raises(InvalidCredentials) as unknown:
        login(world, email="ghost@example.com")
    assert world.hasher.verifications == before + 1  # the dummy hash
    with pytest.raises(InvalidCredentials) as wrong:
        login(world, password="not the password")
    assert world.hasher.verifications == before + 2
    assert (unknown.value.code, unknown.value.detail) == (wrong.value.code, wrong.value.detail)
    fails = [e for e in world.store.audit if e.kind == "authn_login_fail"]
    assert [e.data["reason"] for e in fails] == ["unknown_account", "wrong_password"]
    assert world.store.families == {}


def test_unverified_is_told_only_after_a_correct_password(world):
    register(world)
    with pytest.raises(InvalidCredentials):
        login(world, password="not the password")
    with pytest.raises(Unverified):
        login(world)
    assert world.store.families == {}


def test_an_unverified_address_beside_a_verified_one_does_not_sign_in(world):
    # Someone registers Jane's email with their own phone, verifies the phone, and tries
    # the email: the email proves nothing yet, so it is "unverified" (after the password).
    verified(world, email=EMAIL, phone=PHONE, password=PASSWORD)  # the email is verified
    user = world.user(email=EMAIL)
    user.email_verified_at, user.phone_verified_at = None, world.clock.now()
    world.store.users[user.id] = user
    with pytest.raises(Unverified):
        login(world)
    with pytest.raises(InvalidCredentials):
        login(world, password="not the password")  # a wrong password says nothing more
    assert login(world, email=None, phone=PHONE)[1].access  # the verified phone signs in
    assert len(world.store.families) == 1


def test_a_deactivated_account_gets_invalid_credentials(world):
    verified(world)
    deactivate(world)
    with pytest.raises(InvalidCredentials):
        login(world)
    with pytest.raises(InvalidCredentials):
        login(world, password="not the password")


def test_the_password_is_normalised_but_never_truncated(world):
    long = "".join(chr(ord("a") + i % 26) for i in range(100))
    verified(world, password=long)
    with pytest.raises(InvalidCredentials):
        login(world, password=long[:89] + "#" + long[90:])
    with pytest.raises(InvalidCredentials):
        login(world, password=long + "x")
    assert login(world, password=long)[0].email == EMAIL


def test_characters_beyond_the_limit_are_not_ignored(world):
    """A 129th code point that composes with the 128th must not hide what follows."""
    stem = "zq8#vrt2" * 15 + "zq8#vrt"  # 127 characters
    verified(world, password=stem + "\u00e9")  # 128, precomposed e-acute
    with pytest.raises(InvalidCredentials):
        login(world, password=stem + "e\u0301" + "anything at all")


def test_another_normal_form_of_a_long_password_still_logs_in(world):
    verified(world, password="\u00e9" * 128)  # 128 precomposed
    user, _ = login(world, password="e\u0301" * 128)  # 256 code points, same password
    assert user.email == EMAIL


def test_full_width_forms_log_in(world):
    verified(world)
    assert login(world, password="\uff43\uff4f\uff52\uff52\uff45\uff43\uff54"
                                 " horse battery staple")[0].email == EMAIL


def test_rehash_on_login_when_the_parameters_change(world):
    verified(world)
    login(world)
    assert world.hasher.hashes == 1  # same parameters: no rehash
    world.ports.passwords = FakePasswordHasher(version="v2")
    login(world)
    assert world.user(email=EMAIL).password_hash == f"fake$v2${PASSWORD}"
    login(world)  # and it still works


def test_authenticate_checks_without_minting_tokens(world):
    verified(world)
    assert world.sign_in_browser(email=EMAIL, phone=None,
                                              password=PASSWORD).email == EMAIL
    assert world.store.families == {}


# --- refresh rotation --------------------------------------------------------------------


def test_refresh_rotates_and_spends_the_old_token(world):
    verified(world)
    _, first = login(world)
    second = world.services.tokens.refresh(first.refresh)
    assert second.refresh != first.refresh and second.access != first.access
    [family] = world.store.families.values()
    assert family.generation == 1
    world.services.tokens.user_for_access(second.access)
    third = world.services.tokens.refresh(second.refresh)
    assert world.store.families[family.id].generation == 2
    world.services.tokens.verify(third.refresh)


def test_a_spent_token_after_the_grace_revokes_the_family(world):
    verified(world)
    _, first = login(world)
    second = world.services.tokens.refresh(first.refresh)
    world.clock.advance(seconds=6)

    with pytest.raises(InvalidToken) as caught:
        world.services.tokens.refresh(first.refresh)

    assert caught.value.code == "token_reused"
    [family] = world.store.families.values()
    assert family.revoked_at == world.clock.now() and family.revoke_reason == "reuse"
    assert world.audit_kinds()[-1] == "authn_token_reuse"
    with pytest.raises(InvalidToken):
        world.services.tokens.refresh(second.refresh)  # the thief's or the user's: both dead
    with pytest.raises(InvalidToken):
        world.services.tokens.verify(second.refresh)


def test_a_spent_token_within_the_grace_is_refused_without_revoking(world):
    verified(world)
    _, first = login(world)
    second = world.services.tokens.refresh(first.refresh)  # the other tab won the race
    world.clock.advance(seconds=2)

    with pytest.raises(InvalidToken) as caught:
        world.services.tokens.refresh(first.refresh)

    assert caught.value.code == "token_spent"
    [family] = world.store.families.values()
    assert family.is_active
    assert "authn_token_reuse" not in world.audit_kinds()
    world.services.tokens.refresh(second.refresh)  # the winner's token still works


def test_the_grace_covers_only_the_token_just_spent(world):
    """A token two generations old is reuse even right after a rotation."""
    verified(world)
    _, first = login(world)
    second = world.services.tokens.refresh(first.refresh)
    world.clock.advance(seconds=10)
    world.services.tokens.refresh(second.refresh)  # rotated just now
    world.clock.advance(seconds=1)

    with pytest.raises(InvalidToken) as caught:
        world.services.tokens.refresh(first.refresh)

    assert caught.value.code == "token_reused"
    assert not next(iter(world.store.families.values())).is_active


def test_tokens_are_not_interchangeable(world):
    verified(world)
    _, pair = login(world)
    with pytest.raises(AuthenticationRequired):
        world.services.tokens.user_for_access(pair.refresh)
    with pytest.raises(InvalidToken):
        world.services.tokens.refresh(pair.access)
    with pytest.raises(InvalidToken):
        world.services.tokens.logout(pair.access)
    assert next(iter(world.store.families.values())).is_active


def test_access_tokens_expire(world):
    verified(world)
    _, pair = login(world)
    world.clock.advance(seconds=899)
    world.services.tokens.user_for_access(pair.access)
    world.clock.advance(seconds=1)
    with pytest.raises(AuthenticationRequired):
        world.services.tokens.user_for_access(pair.access)
    with pytest.raises(InvalidToken):
        world.services.tokens.verify(pair.access)


def test_refresh_tokens_expire(world):
    verified(world)
    _, pair = login(world)
    world.clock.advance(days=14)
    with pytest.raises(InvalidToken):
        world.services.tokens.refresh(pair.refresh)


def test_garbage_is_an_invalid_token(world):
    with pytest.raises(InvalidToken):
        world.services.tokens.refresh("not-a-token")
    with pytest.raises(InvalidToken):
        world.services.tokens.verify("not-a-token")
    with pytest.raises(AuthenticationRequired):
        world.services.tokens.user_for_access("not-a-token")


# --- verify, logout, revocation ----------------------------------------------------------


def test_verify_accepts_live_tokens_only(world):
    verified(world)
    _, first = login(world)
    tokens = world.services.tokens
    assert tokens.verify(first.access) is None
    assert tokens.verify(first.refresh) is None
    second = tokens.refresh(first.refresh)
    with pytest.raises(InvalidToken):
        tokens.verify(first.refresh)  # spent
    tokens.verify(second.refresh)


def test_logout_revokes_the_family_only(world):
    verified(world)
    _, phone_pair = login(world)
    _, laptop_pair = login(world)
    world.services.tokens.logout(laptop_pair.refresh)

    with pytest.raises(InvalidToken):
        world.services.tokens.refresh(laptop_pair.refresh)
    with pytest.raises(InvalidToken):
        world.services.tokens.verify(laptop_pair.refresh)
    with pytest.raises(InvalidToken):
        world.services.tokens.verify(laptop_pair.access)  # its login is logged out
    world.services.tokens.verify(phone_pair.access)
    world.services.tokens.refresh(phone_pair.refresh)  # the other login is untouched
    assert world.audit_kinds().count("authn_logout") == 1
    world.services.tokens.logout(laptop_pair.refresh)  # twice: harmless
    assert world.audit_kinds().count("authn_logout") == 1


def test_revoke_all_kills_every_access_and_refresh_token(world):
    user = verified(world)
    _, one = login(world)
    _, two = login(world)
    world.services.tokens.revoke_all(user.id)
    for pair in (one, two):
        with pytest.raises(AuthenticationRequired):
            world.services.tokens.user_for_access(pair.access)
        with pytest.raises(InvalidToken):
            world.services.tokens.refresh(pair.refresh)
    assert all(not f.is_active for f in world.store.families.values())
    login(world)  # a new login works


def test_a_deactivated_users_tokens_stop_working(world):
    verified(world)
    _, pair = login(world)
    deactivate(world)
    with pytest.raises(AuthenticationRequired):
        world.services.tokens.user_for_access(pair.access)
    with pytest.raises(InvalidToken):
        world.services.tokens.refresh(pair.refresh)


def test_user_for_session_follows_the_session_version(world):
    user = verified(world)
    version = session_version(world.user(email=EMAIL))
    assert world.services.tokens.user_for_session(user.id, version).id == user.id
    with pytest.raises(AuthenticationRequired):
        world.services.tokens.user_for_session(user.id, "stale")
    with pytest.raises(AuthenticationRequired):
        world.services.tokens.user_for_session(999, version)
    world.services.tokens.revoke_all(user.id)
    with pytest.raises(AuthenticationRequired):
        world.services.tokens.user_for_session(user.id, version)
    fresh = session_version(world.user(email=EMAIL))
    assert world.services.tokens.user_for_session(user.id, fresh).id == user.id
    deactivate(world)
    with pytest.raises(AuthenticationRequired):
        world.services.tokens.user_for_session(user.id, fresh)
