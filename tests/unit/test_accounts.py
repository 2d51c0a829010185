"""AccountService: registration, profile and password change, with the in-memory fakes."""

from __future__ import annotations

import pytest

from tests.fakes import FakeUserRepository, make_world
from tests.helpers.world import EMAIL, PASSWORD, PHONE, email_code, register, verified
from webapp.application.policy import Policy
from webapp.domain.errors import (
    AuthenticationRequired,
    InvalidToken,
    RegistrationClosed,
    ValidationFailed,
)
from webapp.domain.model import MessageKind


def errors_of(world, **fields):
    with pytest.raises(ValidationFailed) as caught:
        world.services.accounts.register(**{"email": None, "phone": None,
                                            "password": PASSWORD, **fields})
    return caught.value.errors


# --- new accounts ------------------------------------------------------------------------


def test_register_by_email_sends_one_email_with_link_and_code(world):
    register(world, first_name="Jane", last_name="Doe")

    user = world.user(email=EMAIL)
    assert (user.phone, user.first_name, user.last_name) == (None, "Jane", "Doe")
    assert user.password_hash == f"fake$v1${PASSWORD}"
    assert not user.is_verified and user.is_active and not user.is_staff
    [message] = world.emails(EMAIL)
    assert message.payload["template"] == "verify"
    assert world.field_of(message, "link").startswith("http://localhost:5000/verify/")
    assert len(world.field_of(message, "code")) == 6
    assert world.texts() == []
    assert world.audit_kinds() == ["user_created"]
    assert world.uows[-1].committed


def test_register_by_national_phone_stores_e164_and_sends_an_sms(world):
    register(world, email=None, phone="(415) 555-0123")

    user = world.user(phone=PHONE)
    assert user.email is None
    [text] = world.texts(PHONE)
    assert text.payload["template"] == "verify"
    assert len(world.field_of(text, "code")) == 6
    assert world.emails() == []


def test_phone_default_region_comes_from_the_policy():
    world = make_world(Policy(default_region="GB"))
    register(world, email=None, phone="020 7946 0018")
    assert world.user(phone="+442079460018")


def test_register_with_both_sends_both_verifications(world):
    register(world, email=EMAIL, phone="+1 415 555 0123")

    user = world.user(email=EMAIL)
    assert user.phone == PHONE
    assert len(world.emails(EMAIL)) == 1
    assert len(world.texts(PHONE)) == 1
    assert len(world.store.users) == 1


@pytest.mark.parametrize("raw", [
    "  Jane@Example.COM ",
    "JANE@EXAMPLE.COM",
    "\uff4a\uff41\uff4e\uff45@example.com",  # full-width, NFKC
])
def test_email_is_canonicalised(world, raw):
    register(world, email=raw)
    assert [u.email for u in world.store.users.values()] == [EMAIL]


def test_the_same_address_in_another_case_is_the_same_account(world):
    register(world, email="Jane@Example.COM")
    register(world, email="jane@example.com")
    register(world, email="JANE@example.com ")
    assert len(world.store.users) == 1


def test_names_are_trimmed_and_limited(world):
    register(world, first_name="  Mary   Ann ", last_name="\tDoe\n")
    user = world.user(email=EMAIL)
    assert (user.first_name, user.last_name) == ("Mary Ann", "Doe")
    assert errors_of(world, email="x@example.com", first_name="a" * 101) == {
        "first_name": ["Use at most 100 characters."]}


def test_every_problem_is_reported_at_once(world):
    errors = errors_of(world, email="not-an-email", phone="12", password="short",
                       first_name="n" * 101, last_name="l" * 101)
    assert set(errors) == {"email", "phone", "password", "first_name", "last_name"}
    assert world.store.users == {} and world.store.outbox == {}
    assert world.hasher.hashes == 0


@pytest.mark.parametrize("fields,field", [
    ({"email": "jane@"}, "email"),
    ({"email": "jane example.com"}, "email"),
    ({"email": "   "}, "email"),
    ({"phone": "+1 555"}, "phone"),
    ({"phone": "not a number"}, "phone"),
    ({"phone": "+1 415 555 01234567890123456789012345"}, "phone"),
    ({"email": "jane@example.com", "password": "password1"}, "password"),
    ({"email": "jane@example.com", "password": "jane@example.com"}, "password"),
    ({"phone": PHONE, "password": "14155550123"}, "password"),
])
def test_bad_fields_are_refused_per_field(world, fields, field):
    assert list(errors_of(world, **fields)) == [field]
    assert world.store.users == {}


def test_neither_email_nor_phone_is_refused_on_both_fields(world):
    errors = errors_of(world)
    assert set(errors) == {"email", "phone"}


def test_registration_closed_refuses_before_any_work():
    world = make_world(Policy(registration_open=False))
    with pytest.raises(RegistrationClosed):
        register(world)
    assert world.store.users == {} and world.hasher.hashes == 0


# --- an address that is already taken ----------------------------------------------------


def test_taken_by_a_verified_owner_tells_the_owner_and_nothing_else(world):
    verified(world)
    owner_before = world.user(email=EMAIL)
    hashes = world.hasher.hashes

    register(world, email="JANE@example.com", password="another fine passphrase")

    assert len(world.store.users) == 1
    owner = world.user(email=EMAIL)
    assert owner.password_hash == owner_before.password_hash  # never overwritten
    assert world.emails(EMAIL)[-1].payload["template"] == "account_exists"
    assert world.hasher.hashes == hashes + 1  # the same work as a new registration


def test_taken_by_an_unverified_owner_sends_a_finish_signup_not_a_verification(world):
    # The first registrant may be someone who wants the account the address's owner will
    # create: a verification of their account would hand it to them (pre-hijacking).
    register(world)
    old_code = email_code(world)
    hashes = world.hasher.hashes

    register(world, password="another fine passphrase")

    assert len(world.store.users) == 1
    messages = world.emails(EMAIL)
    assert [m.payload["template"] for m in messages] == ["verify", "finish_signup"]
    assert world.field_of(messages[-1], "link").startswith("http://localhost:5000/reset/")
    assert world.field_of(messages[-1], "minutes") == "60"
    assert world.hasher.hashes == hashes + 1  # the same work as a new registration
    owner = world.user(email=EMAIL)
    assert owner.password_hash == f"fake$v1${PASSWORD}" and not owner.is_verified
    # No new verification code: the first one is left as it was (the residual risk of a
    # click on an unsolicited verification email, see README).
    assert world.services.verification.verify_email_code(EMAIL, old_code).is_verified


def test_taken_phone_of_an_unverified_owner_gets_a_finish_signup_sms(world):
    register(world, email=None, phone=PHONE)
    register(world, email=None, phone="(415) 555-0123", password="another fine passphrase")
    assert [m.payload["template"] for m in world.texts(PHONE)] == ["verify", "finish_signup"]
    assert world.field_of(world.texts(PHONE)[-1], "minutes") == "10"
    assert not world.user(phone=PHONE).is_verified


def test_an_unverified_email_beside_a_verified_phone_goes_to_the_new_registration(world):
    # Someone put Jane's email on their account beside their own (verified) phone,
    # hoping Jane verifies it there. Jane signing up gets an account of her own.
    verified(world, email=None, phone=PHONE)
    squatter = world.user(phone=PHONE)
    squatter.email = EMAIL
    world.store.users[squatter.id] = squatter

    register(world, email=EMAIL, password="a passphrase of her own")

    assert len(world.store.users) == 2
    assert world.user(phone=PHONE).email is None
    jane = world.user(email=EMAIL)
    assert jane.id != squatter.id and jane.phone is None
    assert world.emails(EMAIL)[-1].payload["template"] == "verify"
    assert world.services.verification.verify_email_code(EMAIL, email_code(world)).id == jane.id
    assert "unverified_address_released" in world.audit_kinds()


def test_an_owner_signing_up_again_with_a_verified_address_keeps_the_other(world):
    verified(world, email=None, phone=PHONE)
    owner = world.user(phone=PHONE)
    owner.email = EMAIL
    world.store.users[owner.id] = owner

    register(world, email=EMAIL, phone=PHONE, password="another fine passphrase")

    assert len(world.store.users) == 1
    assert world.user(phone=PHONE).email == EMAIL
    assert "unverified_address_released" not in world.audit_kinds()


def test_taken_phone_of_a_verified_owner_gets_an_sms(world):
    verified(world, email=None, phone=PHONE)
    register(world, email=None, phone="(415) 555-0123", password="another fine passphrase")
    assert len(world.store.users) == 1
    assert world.texts(PHONE)[-1].payload["template"] == "account_exists"


def test_the_response_is_the_same_whether_or_not_the_address_existed(world):
    assert register(world) is None
    assert register(world) is None  # no exception, nothing to tell the caller


def test_a_concurrent_registration_that_wins_the_unique_constraint(world, monkeypatch):
    """Both looked and saw no owner; ours loses the insert and tells the owner instead."""
    verified(world)
    hashes = world.hasher.hashes
    real = FakeUserRepository.get_by_email
    misses = iter([True])  # the first look-up runs before the other transaction committed

    def racing_get_by_email(self, email, *, lock=False):
        return None if next(misses, False) else real(self, email, lock=lock)

    monkeypatch.setattr(FakeUserRepository, "get_by_email", racing_get_by_email)
    register(world, email="Jane@example.com", password="another fine passphrase")

    assert len(world.store.users) == 1
    assert world.emails(EMAIL)[-1].payload["template"] == "account_exists"
    assert world.hasher.hashes == hashes + 1  # hashed once, not again on the retry


# --- signed-in changes -------------------------------------------------------------------


def test_update_profile_cleans_names(world):
    user = verified(world)
    updated = world.services.accounts.update_profile(user.id, first_name=" Ann ",
                                                     last_name=None)
    assert (updated.first_name, updated.last_name) == ("Ann", "")
    assert world.user(email=EMAIL).first_name == "Ann"


def test_change_password_needs_the_current_one_and_logs_out_everywhere(world):
    user = verified(world)
    _, pair = world.login(email=EMAIL, phone=None, password=PASSWORD)
    accounts = world.services.accounts
    new = "a brand new passphrase"

    with pytest.raises(ValidationFailed) as caught:
        accounts.change_password(user.id, "wrong password", new, new, auth_time=world.clock.now())
    assert list(caught.value.errors) == ["current_password"]
    with pytest.raises(ValidationFailed) as caught:
        accounts.change_password(user.id, PASSWORD, new, new + "!", auth_time=world.clock.now())
    assert list(caught.value.errors) == ["confirm_password"]
    with pytest.raises(ValidationFailed) as caught:
        accounts.change_password(user.id, PASSWORD, "password1", "password1",
                                 auth_time=world.clock.now())
    assert list(caught.value.errors) == ["new_password"]
    assert world.user(email=EMAIL).password_hash == f"fake$v1${PASSWORD}"

    accounts.change_password(user.id, PASSWORD, new, new, auth_time=world.clock.now())

    assert world.user(email=EMAIL).password_hash == f"fake$v1${new}"
    assert world.emails(EMAIL)[-1].payload["template"] == "password_changed"
    assert "authn_password_change" in world.audit_kinds()
    with pytest.raises(AuthenticationRequired):
        world.services.tokens.user_for_access(pair.access)
    with pytest.raises(InvalidToken):
        world.services.tokens.refresh(pair.refresh)


def test_outbox_kinds_are_plain_messages_until_verification(world):
    register(world, email=EMAIL, phone=PHONE)
    kinds = {m.kind for m in world.store.outbox.values()}
    assert kinds == {MessageKind.EMAIL, MessageKind.SMS}
