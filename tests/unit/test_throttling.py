"""Per-account lockout, per-destination caps and breached passwords, in the services (fakes)."""

from __future__ import annotations

import pytest

from tests.fakes import FakeBreachedPasswords, make_world
from webapp.application.interfaces import RequestInfo
from webapp.application.throttling import ThrottlePolicy, parse_lockout
from webapp.domain.errors import (
    ActionRefused,
    InvalidCredentials,
    InvalidToken,
    Throttled,
    ValidationFailed,
)

PASSWORD = "correct horse battery staple"


def world_with_user(**kwargs):
    world = make_world(throttle=ThrottlePolicy(**kwargs))
    world.services.accounts.register(email="jane@example.com", phone=None, password=PASSWORD)
    code = world.field_of(world.emails("jane@example.com")[-1], "code")
    world.services.verification.verify_email_code("jane@example.com", code)
    return world


def attempt(world, email: str, password: str = "wrong password!") -> str | int:
    """'ok', 'bad' or the Retry-After of a refusal."""
    try:
        world.login(email=email, phone=None, password=password)
    except InvalidCredentials:
        return "bad"
    except Throttled as exc:
        return exc.retry_after
    return "ok"


def test_progressive_lockout_is_temporary_and_the_same_for_unknown_accounts():
    world = world_with_user()
    for email in ("jane@example.com", "nobody@example.com"):
        answers = [attempt(world, email) for _ in range(5)]
        assert answers == ["bad"] * 5
        assert attempt(world, email, PASSWORD) == 60  # locked, even with the right password
        world.clock.advance(seconds=61)
    # 6th..10th failure: 1 minute each time, then 5 minutes from the 10th
    for email in ("jane@example.com", "nobody@example.com"):
        for _ in range(4):
            assert attempt(world, email) == "bad"
            assert attempt(world, email) == 60
            world.clock.advance(seconds=61)
        assert attempt(world, email) == "bad"
        assert attempt(world, email) == 300
        world.clock.advance(seconds=301)
    assert attempt(world, "jane@example.com", PASSWORD) == "ok"  # never permanent
    assert "authn_login_lock" in world.audit_kinds()
    locks = [e for e in world.store.audit if e.kind == "authn_login_lock"]
    assert {e.user_id is None for e in locks} == {True, False}  # both accounts audited


def test_lockout_keys_on_the_canonical_address():
    world = world_with_user()
    for variant in ("Jane@Example.com", "JANE@EXAMPLE.COM", " jane@example.com", "jAne@example.COM",
                    "jane@EXAMPLE.com"):
        assert attempt(world, variant) == "bad"
    assert isinstance(attempt(world, "jane@example.com", PASSWORD), int)


def test_a_successful_login_forgets_the_failures():
    world = world_with_user()
    for _ in range(4):
        assert attempt(world, "jane@example.com") == "bad"
    assert attempt(world, "jane@example.com", PASSWORD) == "ok"
    for _ in range(4):
        assert attempt(world, "jane@example.com") == "bad"
    assert attempt(world, "jane@example.com", PASSWORD) == "ok"


def test_password_reset_lifts_the_lockout():
    world = world_with_user()
    for _ in range(5):
        attempt(world, "jane@example.com")
    assert attempt(world, "jane@example.com", PASSWORD) == 60
    world.services.resets.request(email="jane@example.com", phone=None)
    code = world.field_of(world.emails("jane@example.com")[-1], "code")
    world.services.resets.confirm(email="jane@example.com", code=code,
                                  new_password="a whole new passphrase",
                                  confirm_password="a whole new passphrase")
    assert attempt(world, "jane@example.com", "a whole new passphrase") == "ok"


NEW = "a whole new passphrase"


def change(world, current: str = "wrong password!", phone: str | None = None) -> str | int:
    """Change Jane's password: 'ok', 'bad' (wrong current password) or a Retry-After."""
    user = world.user(email="jane@example.com", phone=phone)
    try:
        world.services.accounts.change_password(user.id, current, NEW, NEW,
                                                auth_time=world.clock.now())
    except ValidationFailed as exc:
        assert list(exc.errors) == ["current_password"]
        return "bad"
    except Throttled as exc:
        return exc.retry_after
    return "ok"


def test_wrong_current_passwords_lock_the_account_for_login_too():
    world = world_with_user()
    assert [change(world) for _ in range(5)] == ["bad"] * 5
    assert change(world, PASSWORD) == 60  # locked, even with the right current password
    assert attempt(world, "jane@example.com", PASSWORD) == 60  # and for login: one lock
    assert world.user(email="jane@example.com").password_hash == f"fake$v1${PASSWORD}"
    assert world.audit_kinds().count("authn_password_change_fail") == 5
    assert "authn_login_lock" in world.audit_kinds()
    world.clock.advance(seconds=61)
    assert change(world) == "bad"
    assert attempt(world, "jane@example.com", PASSWORD) == 60  # the 6th failure, either door


def test_login_failures_lock_the_current_password_check_too():
    world = world_with_user()
    assert [attempt(world, "jane@example.com") for _ in range(4)] == ["bad"] * 4
    assert change(world) == "bad"  # the 5th failure of the one budget
    assert change(world, PASSWORD) == 60
    assert attempt(world, "jane@example.com", PASSWORD) == 60


def test_a_successful_change_forgets_the_failures():
    world = world_with_user()
    assert [change(world) for _ in range(4)] == ["bad"] * 4
    assert change(world, PASSWORD) == "ok"
    for _ in range(4):
        assert attempt(world, "jane@example.com") == "bad"
    assert attempt(world, "jane@example.com", NEW) == "ok"


def test_change_password_counts_on_both_the_email_and_the_phone():
    world = make_world(throttle=ThrottlePolicy())
    world.services.accounts.register(email="jane@example.com", phone="+14155550123",
                                     password=PASSWORD)
    code = world.field_of(world.emails("jane@example.com")[-1], "code")
    world.services.verification.verify_email_code("jane@example.com", code)
    assert [change(world) for _ in range(5)] == ["bad"] * 5

    def by_phone(password: str) -> str | int:
        try:
            world.login(email=None, phone="+14155550123", password=password)
        except Throttled as exc:
            return exc.retry_after
        return "ok"

    assert attempt(world, "jane@example.com", PASSWORD) == 60
    assert by_phone(PASSWORD) == 60
    world.clock.advance(seconds=61)
    # failures by phone login lock the check as well
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            world.login(email=None, phone="+14155550123", password="wrong!")
        world.clock.advance(seconds=61)
    assert isinstance(change(world, PASSWORD), int)


def test_without_limits_a_wrong_current_password_is_only_a_field_error():
    world = make_world()
    world.services.accounts.register(email="jane@example.com", phone=None, password=PASSWORD)
    assert [change(world) for _ in range(30)] == ["bad"] * 30
    assert change(world, PASSWORD) == "ok"


def test_configured_steps_and_the_failure_budget():
    world = world_with_user(lockout=parse_lockout("3:10"),
                            limits={"login_failed_per_account": "4/hour"})
    assert [attempt(world, "jane@example.com") for _ in range(3)] == ["bad"] * 3
    assert attempt(world, "jane@example.com") == 10
    world.clock.advance(seconds=11)
    assert attempt(world, "jane@example.com") == "bad"
    world.clock.advance(seconds=11)
    assert attempt(world, "jane@example.com") > 3000  # 4 failures an hour at most


@pytest.mark.parametrize("variants", [
    ["Jane@Example.com", "jane@example.com", "JANE@EXAMPLE.COM"],
])
def test_resend_and_reset_caps_per_destination(variants):
    world = make_world(throttle=ThrottlePolicy())
    world.services.accounts.register(email="jane@example.com", phone=None, password=PASSWORD)
    for variant in variants[:2]:  # registration was the first message of three
        world.services.verification.resend_email(variant)
    with pytest.raises(Throttled) as caught:
        world.services.verification.resend_email(variants[2])
    assert 3500 < caught.value.retry_after <= 3600
    assert len(world.emails("jane@example.com")) == 3
    for variant in variants:
        world.services.resets.request(email=variant, phone=None)
    with pytest.raises(Throttled):
        world.services.resets.request(email="jane@example.com", phone=None)
    assert len([m for m in world.emails("jane@example.com")
                if m.payload["template"] == "reset"]) == 3
    world.clock.advance(hours=1, seconds=1)
    world.services.resets.request(email="jane@example.com", phone=None)  # an hour later: again


def test_unknown_destinations_are_capped_identically():
    world = make_world(throttle=ThrottlePolicy())
    for _ in range(3):
        world.services.resets.request(email="nobody@example.com", phone=None)
        world.services.verification.resend_phone("+1 415 555 2671")
    with pytest.raises(Throttled):
        world.services.resets.request(email="Nobody@Example.com", phone=None)
    with pytest.raises(Throttled):
        world.services.verification.resend_phone("(415) 555-2671")


def test_at_the_daily_sms_cap_every_number_is_refused_alike_and_no_live_code_dies():
    """Carried over: at the cap a resend or reset issued a new code (the live one died)
    and dropped its SMS, leaving the owner with no working code. Now a request that would
    text a number is refused first, the same way whoever owns it, and the codes live on."""
    world = make_world(throttle=ThrottlePolicy(limits={"sms_global_daily": "3/day"}))
    world.services.accounts.register(email=None, phone="+14155552671", password=PASSWORD)
    world.services.accounts.register(email=None, phone="+14155552672", password=PASSWORD)
    world.services.verification.verify_phone_code(
        "+14155552672", world.field_of(world.texts()[-1], "code"))
    world.services.resets.request(email=None, phone="+14155552672")
    verify_code, reset_code = (world.field_of(m, "code") for m in world.texts()[::2])
    refusals = []
    for ask in (world.services.verification.resend_phone,
                lambda n: world.services.resets.request(email=None, phone=n)):
        for number in ("+14155552671", "+14155552672", "+14155550000"):
            with pytest.raises(Throttled) as refused:
                ask(number)
            refusals.append((refused.value.retry_after, refused.value.detail))
    assert len(set(refusals)) == 1 and len(world.texts()) == 3
    world.services.resets.check(phone="+14155552672", code=reset_code)
    assert world.services.verification.verify_phone_code("+14155552671", verify_code)


def test_a_staff_resend_over_the_daily_sms_cap_keeps_the_live_code():
    """Carried over: a staff "resend verification" at the cap killed the user's code and
    dropped the SMS that carried the new one. The code is now only issued with an SMS;
    the action is refused, saying so (it answered "queued" for the dropped SMS)."""
    world = make_world(throttle=ThrottlePolicy(limits={"sms_global_daily": "1/day"}))
    world.services.accounts.register(email=None, phone="+14155552671", password=PASSWORD)
    code = world.field_of(world.texts()[-1], "code")
    boss, _ = world.services.admin.create_admin("boss@example.com", PASSWORD)
    user = world.user(phone="+14155552671")
    with pytest.raises(ActionRefused, match="No SMS was sent: the site's daily SMS cap"):
        world.services.admin.act(boss.id, user.id, "resend_verification")
    assert len(world.texts()) == 1 and "sms_cap_reached" in world.audit_kinds()
    assert world.services.verification.verify_phone_code("+14155552671", code)


def test_sms_budget_near_its_end_tells_nothing_about_accounts():
    """Carried over: with the global cap peeked per request, a known number's text spent
    the last unit and the next request got 429, an unknown number's did not. Now each
    request takes one unit of the cap (and of the strangers' budget), whoever owns the
    number, so where the 429 comes tells nothing."""
    limits = {"sms_global_daily": "3/day", "sms_anonymous_daily": "5/day"}
    answers = {}
    for first in ("+14155552671", "+14155550000"):  # the probe: a known, then an unknown
        world = make_world(throttle=ThrottlePolicy(limits=limits))
        world.services.accounts.register(email=None, phone="+14155552671", password=PASSWORD)
        world.services.resets.request(email=None, phone=first)
        world.services.resets.request(email=None, phone="+14155550001")  # after the probe
        with pytest.raises(Throttled):
            world.services.resets.request(email=None, phone="+14155550002")
        answers[first] = [e.kind for e in world.store.audit if e.kind != "sms_cap_reached"]
    assert answers["+14155552671"] == answers["+14155550000"]


def test_strangers_cannot_spend_the_sms_budget_that_owners_notices_need():
    """Carried over: anonymous requests could use up sms_global_daily. They stop at
    sms_anonymous_daily (below the global cap), and at sms_per_client per address."""
    limits = {"sms_global_daily": "5/day", "sms_anonymous_daily": "3/day",
              "sms_per_client": "100/day", "verify_per_destination": "100/hour"}
    world = make_world(throttle=ThrottlePolicy(limits=limits))
    world.services.accounts.register(email=None, phone="+14155552671", password=PASSWORD)
    user = world.user(phone="+14155552671")
    for _ in range(2):
        world.services.verification.resend_phone("+14155552671")
    with pytest.raises(Throttled):
        world.services.verification.resend_phone("+14155552671")
    assert len(world.texts()) == 3
    world.services.verification.verify_phone_code(
        "+14155552671", world.field_of(world.texts()[-1], "code"))
    with world.ports.uow() as uow:  # an owner's notice still has budget left
        world.services.accounts.send_sms(uow, user.phone or "", "password_changed", {}, user)
        uow.commit()
    assert len(world.texts()) == 4


def test_sms_per_client_address_budget():
    world = make_world(throttle=ThrottlePolicy(limits={"sms_per_client": "2/day"}))
    for number in ("+14155550001", "+14155550002"):
        world.services.resets.request(email=None, phone=number)
    with pytest.raises(Throttled):
        world.services.resets.request(email=None, phone="+14155550003")
    world.ports.request.info = RequestInfo(ip="198.51.100.7", user_agent="x", request_id="r")
    world.services.resets.request(email=None, phone="+14155550003")  # another address


def test_refresh_per_account_budget():
    world = world_with_user(limits={"refresh_per_account": "2/minute"})
    _, pair = world.login(email="jane@example.com", phone=None,
                                          password=PASSWORD)
    pair = world.services.tokens.refresh(pair.refresh)
    pair = world.services.tokens.refresh(pair.refresh)
    with pytest.raises(Throttled):
        world.services.tokens.refresh(pair.refresh)


def test_dead_refresh_tokens_do_not_spend_their_owners_refresh_budget():
    """Carried over: the budget was spent before the family was checked, so an old
    (revoked) token replayed by anyone locked its owner's live logins out."""
    world = world_with_user(limits={"refresh_per_account": "2/minute"})
    _, old = world.login(email="jane@example.com", phone=None, password=PASSWORD)
    world.services.tokens.logout(old.refresh)
    for _ in range(5):
        with pytest.raises(InvalidToken):
            world.services.tokens.refresh(old.refresh)
    _, live = world.login(email="jane@example.com", phone=None, password=PASSWORD)
    live = world.services.tokens.refresh(live.refresh)
    world.services.tokens.refresh(live.refresh)  # the owner's whole budget is still there


def test_disabled_throttle_never_refuses():
    world = make_world()
    world.services.accounts.register(email="jane@example.com", phone=None, password=PASSWORD)
    for _ in range(30):
        assert attempt(world, "jane@example.com") == "bad"
        world.services.resets.request(email="jane@example.com", phone=None)


def test_breached_passwords_are_refused_on_register_reset_and_change():
    breached = FakeBreachedPasswords("password is breached")
    world = make_world(breached=breached)
    with pytest.raises(ValidationFailed) as caught:
        world.services.accounts.register(email="jane@example.com", phone=None,
                                         password="password is breached")
    assert "breach" in caught.value.errors["password"][0]
    world.services.accounts.register(email="jane@example.com", phone=None, password=PASSWORD)
    user = world.user(email="jane@example.com")
    with pytest.raises(ValidationFailed) as caught:
        world.services.accounts.change_password(user.id, PASSWORD, "password is breached",
                                                "password is breached", auth_time=world.clock.now())
    assert "new_password" in caught.value.errors
    world.services.resets.request(email="jane@example.com", phone=None)
    code = world.field_of(world.emails("jane@example.com")[-1], "code")
    with pytest.raises(ValidationFailed):
        world.services.resets.confirm(email="jane@example.com", code=code,
                                      new_password="password is breached",
                                      confirm_password="password is breached")
    assert breached.asked.count("password is breached") == 3
    # A password that fails the local rules is never sent to the corpus.
    with pytest.raises(ValidationFailed):
        world.services.accounts.register(email="x@example.com", phone=None, password="short")
    assert "short" not in breached.asked


def test_one_guess_per_identifier_is_checked_at_a_time():
    """A guess arriving while another one for the same identifier is being checked is
    refused (Retry-After 1), so parallel guesses cannot overtake the lock; the slot is
    given back by the failure (after its lock is set) or by a success."""
    world = world_with_user()
    throttle = world.ports.throttle
    throttle.before_login("jane@example.com")  # a check in progress
    with pytest.raises(Throttled) as busy:
        throttle.before_login("jane@example.com")
    assert busy.value.retry_after == 1
    throttle.before_login("nobody@example.com")  # other identifiers are not held up
    throttle.forget_failures("nobody@example.com")
    for _ in range(4):
        throttle.record_failure("jane@example.com")
        throttle.before_login("jane@example.com")  # the slot came back with the failure
    assert throttle.record_failure("jane@example.com") == (5, 60)
    with pytest.raises(Throttled) as locked:  # the next guess sees the lock, not a busy slot
        throttle.before_login("jane@example.com")
    assert locked.value.retry_after == 60
    world.clock.advance(seconds=61)
    throttle.before_login("jane@example.com")
    throttle.forget_failures("jane@example.com")
    assert attempt(world, "jane@example.com", PASSWORD) == "ok"


def test_a_check_that_never_finished_frees_its_identifier_after_ten_seconds():
    world = world_with_user()
    world.ports.throttle.before_login("jane@example.com")  # its worker died
    assert attempt(world, "jane@example.com", PASSWORD) == 1
    world.clock.advance(seconds=11)
    assert attempt(world, "jane@example.com", PASSWORD) == "ok"


def test_phone_changes_count_the_sms_budget_of_their_own_client_address():
    """Carried over: a phone change spent ``sms_per_client`` under the empty address, one
    budget for the whole site: the third user's change anywhere got 429 (two a day here)."""
    from webapp.domain.values import Channel

    world = make_world(throttle=ThrottlePolicy(limits={"sms_per_client": "2/day"}))
    for i in range(3):
        email = f"user{i}@example.com"
        world.services.accounts.register(email=email, phone=None, password=PASSWORD)
        user = world.services.verification.verify_email_code(
            email, world.field_of(world.emails(email)[-1], "code"))
        world.ports.request.info = RequestInfo(ip=f"198.51.100.{i}", user_agent="x",
                                               request_id=f"r{i}")
        world.services.address_changes.request(user.id, Channel.PHONE, f"+1415555000{i}",
                                               world.clock.now())
    assert len(world.texts()) == 3
    world.services.address_changes.request(user.id, Channel.PHONE, "+14155550009",
                                           world.clock.now())
    with pytest.raises(Throttled):  # one address's budget still holds: 2 a day
        world.services.address_changes.request(user.id, Channel.PHONE, "+14155550008",
                                               world.clock.now())
