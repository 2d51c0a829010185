"""Where news about an account goes (a changed password, a security change, a deletion, a
new device): ``User.notice_channel``, one rule for every notice. A proven address first;
never an unproven address beside a proven one (a typo, or someone else's on purpose);
a phone-only account by SMS.

Before, a changed password was told only by email (a phone-only account heard nothing),
and it and the security notices went to the email even when only the phone was proven."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.helpers.world import EMAIL, PASSWORD, PHONE, register, sms_code, verified
from webapp.domain.model import User
from webapp.domain.values import Channel

NEW = "a brand new passphrase here"


def _phone_proven_beside_unproven_email(world):  # noqa: ANN001, ANN202
    register(world, email=EMAIL, phone=PHONE)
    user = world.services.verification.verify_phone_code(PHONE, sms_code(world))
    assert user.email == EMAIL and user.email_verified_at is None
    return user


def _texts_since(world, before: int) -> list[str]:  # noqa: ANN001
    return [m.payload["template"] for m in world.texts(PHONE)[before:]]


def test_a_password_change_of_a_phone_only_account_is_texted(world) -> None:
    user = verified(world, email=None, phone=PHONE)
    before = len(world.texts(PHONE))
    world.services.accounts.change_password(user.id, PASSWORD, NEW, NEW,
                                            auth_time=world.clock.now())
    assert _texts_since(world, before) == ["password_changed"]


def test_a_password_change_goes_to_the_proven_phone_not_the_unproven_email(world) -> None:
    user = _phone_proven_beside_unproven_email(world)
    emails, texts = len(world.emails(EMAIL)), len(world.texts(PHONE))
    world.services.accounts.change_password(user.id, PASSWORD, NEW, NEW,
                                            auth_time=world.clock.now())
    assert len(world.emails(EMAIL)) == emails
    assert _texts_since(world, texts) == ["password_changed"]


def test_a_security_change_goes_to_the_proven_phone_not_the_unproven_email(world) -> None:
    user = _phone_proven_beside_unproven_email(world)
    from tests.unit.test_mfa import now_code

    setup = world.services.mfa.start_totp(user.id, world.clock.now())
    emails, texts = len(world.emails(EMAIL)), len(world.texts(PHONE))
    world.services.mfa.confirm_totp(user.id, now_code(world, setup.secret))
    assert len(world.emails(EMAIL)) == emails
    assert _texts_since(world, texts) == ["security_change"]


def test_a_verified_email_is_told_by_email(world) -> None:
    user = verified(world, email=EMAIL)
    emails = len(world.emails(EMAIL))
    world.services.accounts.change_password(user.id, PASSWORD, NEW, NEW,
                                            auth_time=world.clock.now())
    assert [m.payload["template"] for m in world.emails(EMAIL)[emails:]] == [
        "password_changed"]


def _user(email_at: datetime | None, phone_at: datetime | None, *, phone: bool = True,
          email: bool = True) -> User:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return User(email=EMAIL if email else None, phone=PHONE if phone else None,
                password_hash="x", created_at=at, password_changed_at=at,
                email_verified_at=email_at, phone_verified_at=phone_at)


PROVEN = datetime(2026, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize(("user", "expected"), [
    (_user(PROVEN, PROVEN), Channel.EMAIL),       # both proven: the email
    (_user(None, PROVEN), Channel.PHONE),         # only the phone proven
    (_user(PROVEN, None), Channel.EMAIL),
    (_user(None, None), Channel.EMAIL),           # nothing proven yet: what there is
    (_user(None, None, email=False), Channel.PHONE),
    (_user(None, None, email=False, phone=False), None),
])
def test_notice_channel(user: User, expected: Channel | None) -> None:
    assert user.notice_channel() is expected
