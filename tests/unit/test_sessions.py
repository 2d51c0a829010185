"""SessionService with fakes: browser-session records, one list with API logins, ending
one or all others, the ended login's access token, and the throttled last-seen."""

from __future__ import annotations

import pytest

from tests.helpers.world import EMAIL, PASSWORD, verified
from webapp.application.tokens import session_version
from webapp.domain.errors import (
    AuthenticationRequired,
    InvalidToken,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from webapp.domain.sessions import SessionKind, session_id_of


def browser(world, email=EMAIL):
    """A browser sign-in and its session: (user, secret)."""
    user = world.sign_in_browser(email=email, password=PASSWORD)
    return user, world.services.sessions.start(user)


def check(world, user, secret):
    return world.services.sessions.user_for_session(user.id, session_version(user), secret)


def test_a_started_session_signs_in_until_it_is_ended(world):
    verified(world)
    user, secret = browser(world)
    found, record = check(world, user, secret)
    assert found.id == user.id and record.id == session_id_of(secret)
    assert record.device == "device of pytest" and record.ip == "192.0.2.1"
    assert secret not in str(world.sessions.sessions)  # only its digest is stored
    world.services.sessions.end(user, secret)
    with pytest.raises(AuthenticationRequired):
        check(world, user, secret)
    assert world.audit_kinds()[-1] == "authn_logout"


def test_a_session_of_another_user_or_version_or_idle_too_long_is_ended(world):
    verified(world)
    verified(world, email="bob@example.com")
    user, secret = browser(world)
    bob = world.user(email="bob@example.com")
    with pytest.raises(AuthenticationRequired):  # a cookie naming another user
        world.services.sessions.user_for_session(bob.id, session_version(bob), secret)
    with pytest.raises(AuthenticationRequired):
        world.services.sessions.user_for_session(user.id, "0" * 16, secret)
    world.clock.advance(days=31)
    with pytest.raises(AuthenticationRequired):
        check(world, user, secret)


def test_last_seen_is_written_at_most_once_a_minute(world):
    verified(world)
    user, secret = browser(world)
    for _ in range(5):
        world.clock.advance(seconds=10)
        check(world, user, secret)
    assert world.sessions.touches == 0  # 50 s: reads only
    world.clock.advance(seconds=10)
    check(world, user, secret)
    check(world, user, secret)
    assert world.sessions.touches == 1
    [record] = world.sessions.sessions.values()
    assert record.last_seen_at == world.clock.now()


def test_one_list_of_browsers_and_api_logins_newest_first_with_the_current_one(world):
    verified(world)
    user, secret = browser(world)
    world.clock.advance(minutes=1)
    _, pair = world.login(email=EMAIL, password=PASSWORD)
    family = world.services.tokens.access_family(pair.access)
    entries = world.services.sessions.entries(user, current=family)
    assert [(e.kind, e.current) for e in entries] == [(SessionKind.API, True),
                                                      (SessionKind.BROWSER, False)]
    assert entries[1].id == session_id_of(secret)
    assert {e.device for e in entries} == {"device of pytest"}


def test_ending_an_api_login_kills_its_refresh_and_access_tokens_at_once(world):
    verified(world)
    user, pair = world.login(email=EMAIL, password=PASSWORD)
    _, other = world.login(email=EMAIL, password=PASSWORD)
    family = world.services.tokens.access_family(pair.access)
    world.services.sessions.end_one(user, family)
    with pytest.raises(AuthenticationRequired):
        world.services.tokens.user_for_access(pair.access)
    with pytest.raises(InvalidToken):
        world.services.tokens.refresh(pair.refresh)
    assert world.services.tokens.user_for_access(other.access).id == user.id  # not the other
    assert world.store.families[family].revoke_reason == "ended"
    assert world.audit_kinds()[-1] == "session_ended"


def test_ended_logins_are_forgotten_by_the_account_row_once_their_tokens_expired(world):
    verified(world)
    user, first = world.login(email=EMAIL, password=PASSWORD)
    world.services.sessions.end_one(user, world.services.tokens.access_family(first.access))
    world.clock.advance(minutes=20)  # past the access-token lifetime
    _, second = world.login(email=EMAIL, password=PASSWORD)
    world.services.sessions.end_one(user, world.services.tokens.access_family(second.access))
    ended = world.user(email=EMAIL).ended_families.split()
    assert [item.split(":")[0] for item in ended] == [
        world.services.tokens.access_family(second.access)]


def test_another_users_session_is_not_found_like_no_session(world):
    verified(world)
    verified(world, email="bob@example.com")
    jane, secret = browser(world)
    bob, pair = world.login(email="bob@example.com", password=PASSWORD)
    with pytest.raises(NotFound) as not_yours:  # jane's browser session, asked for by bob
        world.services.sessions.end_one(bob, session_id_of(secret))
    with pytest.raises(NotFound):  # bob's API login, asked for by jane
        world.services.sessions.end_one(jane, world.services.tokens.access_family(pair.access))
    with pytest.raises(NotFound) as no_such:
        world.services.sessions.end_one(jane, "0" * 32)
    assert not_yours.value.detail == no_such.value.detail
    check(world, jane, secret)  # still signed in
    world.services.tokens.user_for_access(pair.access)
    for bad in ("", "x" * 32, "0" * 31, "../" + "0" * 29, "A" * 32):
        with pytest.raises(ValidationFailed):
            world.services.sessions.end_one(jane, bad)


def test_end_others_keeps_only_the_callers_session(world):
    verified(world)
    user, mine = browser(world)
    _, theirs = browser(world)
    _, pair = world.login(email=EMAIL, password=PASSWORD)
    assert world.services.sessions.end_others(user, session_id_of(mine)) == 2
    check(world, user, mine)
    with pytest.raises(AuthenticationRequired):
        check(world, user, theirs)
    with pytest.raises(AuthenticationRequired):
        world.services.tokens.user_for_access(pair.access)
    assert [e.id for e in world.services.sessions.entries(user)] == [session_id_of(mine)]


def test_end_others_counts_only_the_sessions_the_list_shows(world):
    """The page says "Ended N other sessions": N is what the user saw listed, not the
    records of sessions already dead (idle here) nor API logins whose refresh token
    expired; those are cleared (the login revoked) all the same."""
    verified(world)
    browser(world)
    world.login(email=EMAIL, password=PASSWORD)
    world.clock.advance(days=31)  # that browser went idle; that login's refresh expired
    user, mine = browser(world)
    _, other = browser(world)
    assert world.services.sessions.end_others(user, session_id_of(mine)) == 1
    assert all(f.revoked_at is not None for f in world.store.families.values())
    assert [r.id for r in world.sessions.sessions.values()] == [session_id_of(mine)]
    assert [e.id for e in world.services.sessions.entries(user)] == [session_id_of(mine)]


def test_a_password_change_hides_and_clears_the_old_sessions(world):
    verified(world)
    user, secret = browser(world)
    world.services.tokens.revoke_all(user.id)  # log out everywhere: a new session version
    fresh = world.user(email=EMAIL)
    assert world.services.sessions.entries(fresh) == []
    assert world.sessions.sessions == {}


def test_staff_end_a_users_session_audited_with_the_actor(world):
    verified(world)
    verified(world, email="boss@example.com")
    staff = world.user(email="boss@example.com")
    staff.is_staff = True
    world.store.users[staff.id] = staff
    user, secret = browser(world)
    with pytest.raises(PermissionDenied):  # jane is not staff
        world.services.sessions.end_by_staff(user.id, user.id, session_id_of(secret))
    world.services.sessions.end_by_staff(staff.id, user.id, session_id_of(secret))
    with pytest.raises(AuthenticationRequired):
        check(world, user, secret)
    event = world.store.audit[-1]
    assert (event.kind, event.actor_id, event.data["action"]) == ("authz_admin", staff.id,
                                                                  "end_session")
