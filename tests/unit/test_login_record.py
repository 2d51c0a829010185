"""A successful login is one SuccessfulLogin handed to the LoginStore, written only if
the account is still as its password was checked; a change in between is checked again."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fakes import FakePasswordHasher, RacingPasswords, World
from tests.fakes.mfa import fake_code, step_at
from tests.helpers.world import EMAIL, PASSWORD, verified
from webapp.application.interfaces import LoginRecorded, SuccessfulLogin
from webapp.application.signin import UnitOfWorkLogins
from webapp.application.tokens import session_version
from webapp.domain.errors import InvalidCredentials, SecondFactorRequired

NEW_PASSWORD = "a brand new passphrase"


class RecordingLogins(UnitOfWorkLogins):
    """The default store, keeping what it was asked to write and what it answered;
    ``before_record`` runs before every write (another request getting in first)."""

    def __init__(self, world: World, before_record: Callable[[], None] | None = None) -> None:
        super().__init__(world.ports.uow)
        self.before_record = before_record
        self.records: list[SuccessfulLogin] = []
        self.results: list[bool] = []  # written or not

    def record(self, login: SuccessfulLogin) -> LoginRecorded | None:
        self.records.append(login)
        if self.before_record is not None:
            self.before_record()
        recorded = super().record(login)
        self.results.append(recorded is not None)
        return recorded


def recording(world: World, before_record: Callable[[], None] | None = None) -> RecordingLogins:
    logins = RecordingLogins(world, before_record)
    world.services.signin.logins = logins
    return logins


def race(world: World, change: Callable[[], object]) -> None:
    """``change`` lands while the login checks the password (after its read)."""
    world.ports.passwords = RacingPasswords(world.ports.passwords, change)


def login(world: World, password: str = PASSWORD):  # noqa: ANN201
    return world.login(email=EMAIL, phone=None, password=password)


def fail_reasons(world: World) -> list[str]:
    return [e.data["reason"] for e in world.store.audit if e.kind == "authn_login_fail"]


def test_a_login_hands_the_store_the_user_family_and_event_at_once(world):
    stored = verified(world)
    logins = recording(world)
    user, pair = login(world)
    [record] = logins.records
    assert logins.results == [True]
    assert (record.user.id, record.user.last_login_at) == (stored.id, world.clock.now())
    assert record.verified_hash == record.user.password_hash == stored.password_hash
    assert record.user.uniquifier == stored.uniquifier
    assert record.family is not None
    assert (record.family.id, record.family.user_id) == (
        world.codec.issued[pair.refresh]["fam"], stored.id)
    assert (record.event.kind, record.event.user_id) == ("authn_login_success", stored.id)
    # ... and the store wrote exactly that.
    assert list(world.store.families) == [record.family.id]
    assert world.store.audit[-1].kind == "authn_login_success"
    assert world.user(email=EMAIL).last_login_at == world.clock.now()
    assert user.last_login_at == world.clock.now()


def test_a_browser_login_records_no_family(world):
    verified(world)
    logins = recording(world)
    world.sign_in_browser(email=EMAIL, phone=None, password=PASSWORD)
    [record] = logins.records
    assert record.family is None
    assert world.store.families == {}
    assert world.user(email=EMAIL).last_login_at == world.clock.now()
    assert world.audit_kinds()[-1] == "authn_login_success"


def test_a_rehash_is_written_guarded_by_the_hash_that_was_checked(world):
    verified(world)
    logins = recording(world)
    world.ports.passwords = FakePasswordHasher(version="v2")
    login(world)
    [record] = logins.records
    assert (record.verified_hash, record.user.password_hash) == (
        f"fake$v1${PASSWORD}", f"fake$v2${PASSWORD}")
    assert world.user(email=EMAIL).password_hash == f"fake$v2${PASSWORD}"


def test_failures_write_nothing_through_the_store(world):
    verified(world)
    logins = recording(world)
    with pytest.raises(InvalidCredentials):
        login(world, password="not the password")
    assert logins.records == []
    assert fail_reasons(world) == ["wrong_password"]


def test_deactivated_while_the_password_is_checked_fails_the_login(world):
    user = verified(world)
    logins = recording(world)
    race(world, lambda: world.services.admin.act(None, user.id or 0, "deactivate"))
    with pytest.raises(InvalidCredentials):
        login(world)
    assert logins.results == [False]  # the write found the account changed: nothing written
    assert fail_reasons(world) == ["deactivated"]
    assert world.store.families == {}
    assert world.user(email=EMAIL).last_login_at is None


def test_password_changed_while_the_old_one_is_checked_fails_the_login(world):
    user = verified(world)
    logins = recording(world)
    race(world, lambda: world.services.accounts.change_password(
        user.id or 0, PASSWORD, NEW_PASSWORD, NEW_PASSWORD, auth_time=world.clock.now()))
    with pytest.raises(InvalidCredentials):
        login(world)
    assert logins.results == [False]
    assert fail_reasons(world) == ["wrong_password"]  # checked again against the new hash
    assert world.store.families == {}
    assert login(world, password=NEW_PASSWORD)[0].id == user.id


def test_logged_out_everywhere_meanwhile_the_login_gets_the_new_session_version(world):
    user = verified(world)
    logins = recording(world)
    race(world, lambda: world.services.tokens.revoke_all(user.id or 0))
    _, pair = login(world)
    assert logins.results == [False, True]
    fresh = world.user(email=EMAIL)
    assert fresh.uniquifier != user.uniquifier
    assert world.codec.issued[pair.access]["sv"] == session_version(fresh)
    assert world.services.tokens.user_for_access(pair.access).id == user.id
    assert [f.id for f in world.store.families.values() if f.is_active] == [
        world.codec.issued[pair.refresh]["fam"]]


def test_two_logins_at_once_during_a_rehash_both_succeed(world):
    verified(world)
    logins = recording(world)
    world.ports.passwords = FakePasswordHasher(version="v2")
    race(world, lambda: login(world))  # the other login rehashes first
    login(world)
    assert logins.results == [True, False, True]
    assert world.user(email=EMAIL).password_hash == f"fake$v2${PASSWORD}"
    assert len(world.store.families) == 2
    assert fail_reasons(world) == []


def test_an_account_that_keeps_changing_fails_the_login_after_a_second_look(world):
    user = verified(world)
    recording(world, before_record=lambda: world.services.tokens.revoke_all(user.id or 0))
    with pytest.raises(InvalidCredentials):
        login(world)
    assert fail_reasons(world) == ["changed_during_login"]
    assert world.store.families == {}


def test_a_factor_turned_on_while_the_password_is_checked_asks_for_it(world):
    """A password-only sign-in in flight when the owner turns on an authenticator app must
    not be written without the factor: it is looked at again and asks for the code."""
    user = verified(world)
    logins = recording(world)

    def turn_on_app() -> None:
        setup = world.services.mfa.start_totp(user.id or 0, world.clock.now())
        world.services.mfa.confirm_totp(user.id or 0,
                                        fake_code(setup.secret, step_at(world.clock.now())))

    race(world, turn_on_app)
    with pytest.raises(SecondFactorRequired):
        login(world)
    assert logins.results == [False]  # the password-only write was refused
    assert world.store.families == {}
    assert world.user(email=EMAIL).last_login_at is None
