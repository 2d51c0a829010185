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
