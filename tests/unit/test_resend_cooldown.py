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


def test_a_resend_within_the_cool_down_sends_nothing(world):
    world.clock.advance(seconds=59)
    world.services.verification.resend_email("jane@example.com")
    world.services.verification.resend_phone("+14155550123")
    assert len(world.emails("jane@example.com")) == 1
    assert len(world.texts("+14155550123")) == 1


def test_a_resend_after_the_cool_down_sends_again(world):
    world.clock.advance(seconds=60)
    world.services.verification.resend_email("jane@example.com")
    world.services.verification.resend_phone("+14155550123")
    assert len(world.emails("jane@example.com")) == 2
    assert len(world.texts("+14155550123")) == 2


def test_the_cool_down_is_off_by_default():
    world = make_world()
    world.services.accounts.register(email="jane@example.com", phone=None, password=PASSWORD)
    world.services.verification.resend_email("jane@example.com")
    assert len(world.emails("jane@example.com")) == 2
