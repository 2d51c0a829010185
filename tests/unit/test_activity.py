"""ActivityService with fakes: the user's own security events, newest first, paged."""

from __future__ import annotations

import pytest

from tests.helpers.world import EMAIL, PASSWORD, verified
from webapp.application.activity import PAGE_SIZE
from webapp.domain.errors import InvalidCredentials


def test_sign_ins_and_failures_newest_first_and_not_other_peoples(world):
    verified(world)
    verified(world, email="bob@example.com")
    world.sign_in_browser(email=EMAIL, password=PASSWORD)
    with pytest.raises(InvalidCredentials):
        world.sign_in_browser(email=EMAIL, password="not the password")
    world.sign_in_browser(email="bob@example.com", password=PASSWORD)
    jane = world.user(email=EMAIL)
    page = world.services.activity.page(jane.id)
    kinds = [e.event for e in page.events]
    assert kinds[:2] == ["authn_login_fail", "authn_login_success"]
    assert "user_created" in kinds and "user_verified" in kinds
    assert all(e.device == "device of pytest" and e.ip == "192.0.2.1" for e in page.events)
    assert len(page.events) == len(kinds) and not page.has_next
    assert world.services.activity.page(world.user(email="bob@example.com").id).events[0] \
        .event == "authn_login_success"


def test_pages_of_fifty_and_out_of_range_pages(world):
    verified(world)
    for _ in range(PAGE_SIZE + 5):
        world.sign_in_browser(email=EMAIL, password=PASSWORD)
    user_id = world.user(email=EMAIL).id
    first, second = world.services.activity.page(user_id), world.services.activity.page(
        user_id, 2)
    assert len(first.events) == PAGE_SIZE and first.has_next
    assert 0 < len(second.events) < PAGE_SIZE and not second.has_next
    assert world.services.activity.page(user_id, -3).page == 1
    assert world.services.activity.page(user_id, 10**9).events == []


def test_a_staff_members_address_and_browser_are_not_shown_to_the_user(world):
    """What staff did to the account is listed, but the IP address and browser it came
    from are the staff member's, not the account's: the user sees neither, here nor in
    the download of their data."""
    from tests.helpers.world import add_user
    from webapp.application.interfaces import RequestInfo

    user = verified(world)
    boss = add_user(world, "boss@example.com", is_staff=True)
    world.ports.request.info = RequestInfo(ip="203.0.113.9", user_agent="StaffBrowser/1.0",
                                           request_id="r")
    world.services.admin.act(boss.id, user.id, "revoke_sessions")
    [staff] = [e for e in world.services.activity.page(user.id).events if e.by_staff]
    assert staff.ip == "" and "StaffBrowser" not in staff.user_agent + staff.device
    world.ports.request.info = RequestInfo(ip="192.0.2.1", user_agent="pytest", request_id="s")
    data = world.services.account_data.export(user.id, world.clock.now())
    assert "203.0.113.9" not in str(data) and "StaffBrowser" not in str(data)
