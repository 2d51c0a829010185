"""Unit-test fixtures: a fresh in-memory world per test (no Flask, no database)."""

from __future__ import annotations

import pytest

from tests.fakes import World, make_world
from webapp.domain.model import User

PASSWORD = "correct horse battery staple"
EMAIL = "jane@example.com"
PHONE = "+14155550123"  # a valid US number; national form "(415) 555-0123"


@pytest.fixture
def world() -> World:
    return make_world()


def register(world: World, email: str | None = EMAIL, phone: str | None = None,
             password: str = PASSWORD, **names: str) -> None:
    world.services.accounts.register(email=email, phone=phone, password=password, **names)


def email_code(world: World, to: str = EMAIL) -> str:
    return world.field_of(world.emails(to)[-1], "code")


def sms_code(world: World, to: str = PHONE) -> str:
    return world.field_of(world.texts(to)[-1], "code")


def link_token(world: World, to: str = EMAIL, path: str = "/verify/") -> str:
    """The token of the newest emailed link (``<base>/verify/<token>``)."""
    link = world.field_of(world.emails(to)[-1], "link")
    assert link.startswith(world.policy.base_url + path), link
    return link.split(path, 1)[1]


def verified(world: World, email: str | None = EMAIL, phone: str | None = None,
             password: str = PASSWORD) -> User:
    """A registered account with its email (or else its phone) verified."""
    register(world, email=email, phone=phone, password=password)
    if email:
        return world.services.verification.verify_email_code(email, email_code(world, email))
    assert phone is not None
    return world.services.verification.verify_phone_code(phone, sms_code(world, phone))


def wrong(code: str) -> str:
    """A 6-digit code that is surely not ``code``."""
    return f"{(int(code) + 1) % 1_000_000:06d}"
