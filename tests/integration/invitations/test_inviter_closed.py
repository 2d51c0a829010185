"""A user's invitation (``INVITATIONS_BY_USERS``) dies with its inviter's account: once the
inviter is deactivated, waiting for the deletion they asked for, or erased, the link admits
nobody (``REGISTRATION=invite``: it was the way in), the staff page lists it as void, and
staff who resend it vouch for it instead. SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Outbox
from tests.helpers.app import (
    accept_invitation,
    bearer,
    csrf_token,
    invite_by,
    log_in,
    make_user,
    services,
)
from webapp.extensions import db
from webapp.infrastructure.orm import InvitationRow

CLOSED = {"INVITATIONS_BY_USERS": True, "REGISTRATION": "invite"}


def _invite(client, outbox):
    return invite_by(client, outbox, "pal@example.com")


def _states(client):
    return re.findall(r'<td data-label="State"><span>([^<(]+)', client.get(
        "/admin/invitations").text)


@pytest.mark.parametrize("removal", ["deactivate", "delete"])
def test_a_users_invitation_dies_with_the_inviters_account(app_factory, removal):
    app = app_factory(**CLOSED)
    client, outbox = app.test_client(), Outbox(app)
    boss = make_user(app, "boss@example.com", staff=True)
    inviter = make_user(app, "pal@example.com")
    invitation_id, token = _invite(client, outbox)
    if removal == "deactivate":
        with app.app_context():
            services(app).admin.act(boss.id, inviter.id, "deactivate")
    else:  # the inviter asks for their account's deletion: closed, erased after the grace
        gone = client.delete("/api/auth/me/", headers=bearer(client, "pal@example.com"))
        assert gone.status_code == 202 and gone.json["erase_at"], gone.json

    refused = accept_invitation(client, token)
    assert refused.status_code == 400 and refused.json["code"] == "invitation_revoked"
    page = client.get(f"/invite/{token}")
    assert page.status_code == 400 and "withdrawn" in page.text
    staff = app.test_client()
    log_in(staff, boss)
    assert _states(staff) == ["void: the inviting account is closed"]
    # Staff who still want that person in send it again: they vouch for it now.
    staff.post(f"/admin/invitations/{invitation_id}/resend",
               data={"csrf_token": csrf_token(staff, "/admin/invitations")})
    assert _states(staff) == ["pending"]
    accepted = accept_invitation(client, outbox.link_token("new@example.com", "/invite/"))
    assert accepted.status_code == 200, accepted.json


def test_a_users_invitation_dies_with_its_erased_inviter(app_factory):
    """Erasure takes the inviter's row away (the invitation's inviter becomes NULL, as the
    command line's are): their unaccepted invitations are withdrawn first, not laundered
    into the operator's."""
    app = app_factory(ACCOUNT_DELETION_GRACE=0, **CLOSED)
    client, outbox = app.test_client(), Outbox(app)
    make_user(app, "pal@example.com")
    _, token = _invite(client, outbox)
    gone = client.delete("/api/auth/me/", headers=bearer(client, "pal@example.com"))
    assert gone.status_code == 202 and gone.json["erase_at"] is None, gone.json

    refused = accept_invitation(client, token)
    assert refused.status_code == 400 and refused.json["code"] == "invitation_revoked"
    with app.app_context():
        row = db.session.scalars(db.select(InvitationRow)).one()
        assert row.inviter_id is None and row.revoked_at is not None


def test_a_users_invitation_stands_while_the_inviter_is_active(app_factory):
    app = app_factory(**CLOSED)
    client, outbox = app.test_client(), Outbox(app)
    make_user(app, "pal@example.com")
    _, token = _invite(client, outbox)
    accepted = accept_invitation(client, token)
    assert accepted.status_code == 200 and accepted.json["user"]["email"] == "new@example.com"
