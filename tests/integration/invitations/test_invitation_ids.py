"""An invitation link opens the invitation it was sent for and no other. On SQLite an
invitations row takes the largest id plus one, so the id of an erased newest invitation
(erasure deletes the invitations to the erased addresses) goes to the next invitation:
the old link, which names the id and the address, must not open the new one. SQLite and
PostgreSQL (whose sequence never goes back: the old link names an id that is gone)."""

from __future__ import annotations

from itsdangerous import TimestampSigner

from tests.conftest import Outbox
from tests.helpers.app import accept_invitation, invite_by, make_user, ports
from webapp.extensions import db
from webapp.infrastructure.orm import InvitationRow, UserRow

EMAIL = "new@example.com"


def _invite(client, outbox, **extra):
    return invite_by(client, outbox, "boss@example.com", EMAIL, **extra)


def test_an_old_link_does_not_open_a_newer_invitation_to_the_same_address(app_factory):
    app = app_factory(ACCOUNT_DELETION_GRACE=0)
    client, outbox = app.test_client(), Outbox(app)
    make_user(app, "boss@example.com", staff=True)
    first_id, old_link = _invite(client, outbox)
    joined = accept_invitation(client, old_link)
    assert joined.status_code == 200, joined.json
    # The invitee leaves: erasure takes the invitations to their address with the account.
    gone = client.delete("/api/auth/me/", headers={
        "Authorization": f"Bearer {joined.json['tokens']['access']}"})
    assert gone.status_code == 202 and gone.json["erase_at"] is None, gone.json
    with app.app_context():
        assert db.session.scalars(db.select(InvitationRow)).all() == []

    # Staff invite the address again, as staff this time.
    second_id, new_link = _invite(client, outbox, staff=True)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            assert second_id == first_id  # the premise: SQLite gave the id out again
    refused = accept_invitation(client, old_link)
    assert refused.status_code == 400 and refused.json["code"] == "invalid_token", \
        refused.json
    with app.app_context():
        row = db.session.get(InvitationRow, second_id)
        assert row.accepted_at is None  # the new invitation is still the invitee's to take
    accepted = accept_invitation(client, new_link)
    assert accepted.status_code == 200, accepted.json
    with app.app_context():
        assert db.session.get(UserRow, accepted.json["user"]["id"]).is_staff is True


def test_a_link_sent_before_links_named_their_invitations_time(app_factory, monkeypatch):
    """Links sent before the upgrade name only the id and the address: one signed before
    its invitation was made was for another invitation that had the id, and is refused;
    one signed after it (what was sent for it) still works."""
    app = app_factory()
    client, outbox = app.test_client(), Outbox(app)
    make_user(app, "boss@example.com", staff=True)
    invitation_id, _ = _invite(client, outbox)
    legacy = {"iid": invitation_id, "email": EMAIL}
    signer = ports(app).signer
    now = TimestampSigner.get_timestamp(TimestampSigner("k"))
    with monkeypatch.context() as earlier:
        earlier.setattr(TimestampSigner, "get_timestamp", lambda self: now - 60)
        before = signer.dumps("invitation", legacy)
    refused = accept_invitation(client, before)
    assert refused.status_code == 400 and refused.json["code"] == "invalid_token", \
        refused.json
    accepted = accept_invitation(client, signer.dumps("invitation", legacy))
    assert accepted.status_code == 200, accepted.json
