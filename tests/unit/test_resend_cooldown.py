"""The resend cool-down: a service rule, the same for the API and the pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes import make_world
from webapp.application.policy import Policy

PASSWORD = "correct horse battery staple"


@pytest.fixture
def world():
    world = make_world(Policy(resend_cooldown=timedelta(seconds=60)))
    world.services.accounts.register(email="jane@example.com", phone="+14155550123",
                                     password=PASSWORD)
    return world


@pytest.mark.parametrize(("seconds", "sent"), [(59, 1), (60, 2)])
def test_a_resend_within_the_cool_down_sends_nothing(world, seconds, sent):
    world.clock.advance(seconds=seconds)
    world.services.verification.resend_email("jane@example.com")
    world.services.verification.resend_phone("+14155550123")
    assert len(world.emails("jane@example.com")) == sent
    assert len(world.texts("+14155550123")) == sent


def test_the_cool_down_is_off_by_default():
    world = make_world()
    world.services.accounts.register(email="jane@example.com", phone=None, password=PASSWORD)
    world.services.verification.resend_email("jane@example.com")
    assert len(world.emails("jane@example.com")) == 2
