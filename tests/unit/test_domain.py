"""Entities and value objects of webapp/domain that the service tests do not reach directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp.application.policy import Policy
from webapp.domain.errors import Throttled, ValidationFailed
from webapp.domain.invitations import Invitation, InvitationState
from webapp.domain.model import CodePurpose, OneTimeCode, User
from webapp.domain.values import Channel, Email, Phone, mask_email, mask_phone

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_email_parse_canonicalises_and_limits_length():
    assert Email.parse("  J\u00f6rg@Example.COM ").value == "j\u00f6rg@example.com"
    with pytest.raises(ValidationFailed) as caught:
        Email.parse("a" * 250 + "@example.com", field="login")
    assert list(caught.value.errors) == ["login"]


def test_a_new_address_must_be_one_our_email_reaches():
    # Characters outside ASCII before the @ need SMTPUTF8 end to end, which the mail path
    # does not offer: refused, naming them. A domain in any script is sent as its ASCII form.
    with pytest.raises(ValidationFailed) as caught:
        Email.parse("Jos\u00e9.\u00e9@example.com", field="new_email", new=True)
    (message,) = caught.value.errors["new_email"]
    assert "'\u00e9'" in message and "before the @-sign" in message
    assert Email.parse("jose@B\u00fccher.example", new=True).value == "jose@b\u00fccher.example"
    # An address already held is still found by the look-ups (sign-in, reset, resend).
    assert Email.parse("Jos\u00e9@example.com").value == "jos\u00e9@example.com"


def test_phone_parse_needs_a_region_for_national_numbers():
    assert Phone.parse("+44 20 7946 0018", None).value == "+442079460018"
    with pytest.raises(ValidationFailed):
        Phone.parse("020 7946 0018", None)
    assert Phone.parse("020 7946 0018", "GB").value == "+442079460018"


def test_masks_hide_most_of_an_address():
    assert mask_email("jane@example.com") == "j***@example.com"
    assert mask_phone("+14155550123") == "+14***23"


def test_marking_verified_reports_only_the_first_verification():
    user = User(email="jane@example.com", phone="+14155550123", password_hash="x")
    assert user.mark_verified(Channel.PHONE, NOW) is True
    assert user.mark_verified(Channel.EMAIL, NOW + timedelta(hours=1)) is False
    assert user.mark_verified(Channel.EMAIL, NOW + timedelta(hours=2)) is False
    assert user.email_verified_at == NOW + timedelta(hours=1)  # the first time is kept


def test_a_new_password_rotates_the_uniquifier():
    user = User(email="jane@example.com", phone=None, password_hash="old")
    before = user.uniquifier
    user.set_password_hash("new", NOW)
    assert (user.password_hash, user.password_changed_at) == ("new", NOW)
    assert user.uniquifier != before and len(user.uniquifier) == 32


def test_user_identities_and_names():
    user = User(email=None, phone="+14155550123", password_hash="x", first_name="Ann")
    assert user.identities() == ["+14155550123"]
    assert user.full_name == "Ann"
    assert not user.is_verified


def test_one_time_code_usability():
    code = OneTimeCode(user_id=1, purpose=CodePurpose.VERIFY_EMAIL, destination="d",
                       code_hash="h", expires_at=NOW + timedelta(minutes=10), created_at=NOW)
    assert code.is_usable(NOW)
    assert not code.is_usable(NOW + timedelta(minutes=10))
    code.attempts = 5
    assert not code.is_usable(NOW)


def test_invitation_states():
    invitation = Invitation(email="a@example.com", inviter_id=None, created_at=NOW,
                            expires_at=NOW + timedelta(days=7))
    assert invitation.state(NOW, None) is InvitationState.PENDING  # the command line's
    assert invitation.state(NOW + timedelta(days=7), None) is InvitationState.EXPIRED
    invitation.revoked_at = NOW
    assert invitation.state(NOW, None) is InvitationState.REVOKED
    invitation.accepted_at = NOW
    assert invitation.state(NOW + timedelta(days=8), None) is InvitationState.ACCEPTED


def test_a_staff_invitation_is_void_once_its_inviter_is_no_longer_staff():
    def state(as_staff=True, inviter_id=1, **inviter):
        invitation = Invitation(email="a@example.com", inviter_id=inviter_id, created_at=NOW,
                                expires_at=NOW + timedelta(days=7), as_staff=as_staff)
        fields = {"id": 1, "is_staff": True, **inviter}
        return invitation.state(NOW, User(email="boss@example.com", phone=None,
                                          password_hash="x", **fields))

    assert state() is InvitationState.PENDING
    assert state(is_staff=False) is InvitationState.VOID
    assert state(is_active=False) is InvitationState.VOID
    assert state(deletion_due_at=NOW) is InvitationState.VOID
    assert state(id=2) is InvitationState.VOID  # not the inviter's account
    assert state(as_staff=False, is_staff=False) is InvitationState.PENDING  # a user's
    gone = Invitation(email="a@example.com", inviter_id=1, created_at=NOW,
                      expires_at=NOW + timedelta(days=7), as_staff=True)
    assert gone.state(NOW, None) is InvitationState.VOID
    gone.inviter_id = None  # the command line's
    assert gone.state(NOW, None) is InvitationState.PENDING


def test_a_users_invitation_is_void_once_its_inviters_account_is_closed():
    """INVITATIONS_BY_USERS: the inviter vouches only while their account is active."""
    def state(inviter_id=1, **inviter):
        invitation = Invitation(email="a@example.com", inviter_id=inviter_id, created_at=NOW,
                                expires_at=NOW + timedelta(days=7))
        user = User(email="pal@example.com", phone=None, password_hash="x",
                    **{"id": 1, **inviter})
        return invitation.state(NOW, user)

    assert state() is InvitationState.PENDING
    assert state(is_active=False) is InvitationState.VOID  # deactivated
    assert state(is_active=False, deletion_due_at=NOW) is InvitationState.VOID  # leaving
    assert state(id=2) is InvitationState.VOID  # not the inviter's account
    erased = Invitation(email="a@example.com", inviter_id=1, created_at=NOW,
                        expires_at=NOW + timedelta(days=7))
    assert erased.state(NOW, None) is InvitationState.VOID  # no such account any more
    erased.revoked_at = NOW  # what the erasure does first (see account_data)
    assert erased.state(NOW, None) is InvitationState.REVOKED


def test_throttled_rounds_retry_after_up_to_a_whole_second():
    assert Throttled(0.2).retry_after == 1
    assert Throttled(1.5).retry_after == 2  # retrying after 1 s would be refused again
    assert Throttled(30).retry_after == 30


def test_policy_links_use_the_configured_base_never_a_request():
    assert Policy(base_url="https://accounts.example.com/").link("/reset/t") == (
        "https://accounts.example.com/reset/t")
