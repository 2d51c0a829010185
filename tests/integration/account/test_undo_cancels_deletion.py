"""Taking a hijacked account back through both doors (the API's ``email-change/undo/`` and
the browser's ``/account/undo/<token>``) cancels the deletion the hijacker asked for while
holding it (``DELETE me/``: the account closed, its cancel link at the hijacker's address);
one staff asked for stays; once the account is erased the undo link is dead. SQLite and
PostgreSQL."""

from __future__ import annotations

from tests.conftest import PASSWORD, Outbox
from tests.helpers.app import audit_rows
from tests.integration.account.conftest import undo_in_browser
from tests.integration.api.conftest import bearer, stored_user
from tests.integration.web.conftest import login, text

EMAIL = "jane@example.com"
THIEF = "thief@example.com"
NEW_PASSWORD = "a completely new passphrase"
DEAD = "This link is invalid, expired or already used."


def _hijack_and_delete(client, access, outbox):
    """With a stolen session: the email moves to the hijacker's, then the account is
    deleted (closed at once; its cancel link goes to the hijacker)."""
    asked = client.post("/api/auth/email-change/", headers=bearer(access),
                        json={"new_email": THIEF})
    assert asked.status_code == 202, asked.json
    done = client.post("/api/auth/email-change/confirm/", headers=bearer(access),
                       json={"code": outbox.code("email", THIEF)})
    assert done.status_code == 200, done.json
    deleted = client.delete("/api/auth/me/", headers=bearer(access))
    assert deleted.status_code == 202 and deleted.json["erase_at"], deleted.json
    assert outbox.link_token(THIEF, "/account/delete/cancel/")


def _undo_by_api(client, outbox):
    return client.post("/api/auth/email-change/undo/", json={
        "token": outbox.link_token(EMAIL, "/account/undo/"), "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD})


def _kept(app, client, outbox):
    """The account is back and active (with the new password), told so, audited."""
    user = stored_user(app, email=EMAIL)
    assert user.is_active and user.deletion_due_at is None
    signed_in = client.post("/api/auth/login/", json={"email": EMAIL,
                                                      "password": NEW_PASSWORD})
    assert signed_in.status_code == 200 and "tokens" in signed_in.json, signed_in.json
    assert [r.data.get("reason") for r in audit_rows(app, "account_delete_cancelled")] == [
        "address_change_undone"]
    notice = outbox.last("email", EMAIL)
    assert notice.payload["template"] == "password_changed"
    assert "deletion of your account" in notice.payload["text"]
    cancel = outbox.link_token(THIEF, "/account/delete/cancel/")
    spent = client.post("/api/auth/me/delete/cancel/", json={"token": cancel})
    assert spent.status_code == 400, spent.json  # the hijacker's cancel link is dead


def test_api_undo_cancels_the_hijackers_deletion(app, client, tokens, outbox):
    _hijack_and_delete(client, tokens["access"], outbox)
    back = _undo_by_api(client, outbox)
    assert back.status_code == 200, back.json
    _kept(app, client, outbox)


def test_browser_undo_cancels_the_hijackers_deletion(app, client, tokens, outbox):
    _hijack_and_delete(client, tokens["access"], outbox)
    _, _, back = undo_in_browser(app, outbox.link_token(EMAIL, "/account/undo/"),
                                 NEW_PASSWORD)
    assert back.status_code == 303 and back.location == "/login"
    _kept(app, client, outbox)
    owner = login(app.test_client(), EMAIL, NEW_PASSWORD)
    assert owner.status_code == 303 and owner.location == "/account"


def test_a_deletion_staff_asked_for_stays(app, client, runner, tokens, outbox):
    asked = client.post("/api/auth/email-change/", headers=bearer(tokens["access"]),
                        json={"new_email": THIEF})
    assert asked.status_code == 202
    client.post("/api/auth/email-change/confirm/", headers=bearer(tokens["access"]),
                json={"code": outbox.code("email", THIEF)})
    deleted = runner.invoke(args=["users", "delete", THIEF, "--yes"])
    assert deleted.exit_code == 0, deleted.output

    assert _undo_by_api(client, outbox).status_code == 200
    user = stored_user(app, email=EMAIL)
    assert not user.is_active and user.deletion_due_at is not None
    assert audit_rows(app, "account_delete_cancelled") == []
    refused = client.post("/api/auth/login/", json={"email": EMAIL, "password": NEW_PASSWORD})
    assert refused.status_code == 401, refused.json


def test_once_erased_the_undo_link_is_dead_in_both_doors(app_factory):
    app = app_factory(ACCOUNT_DELETION_GRACE=0)
    client, outbox = app.test_client(), Outbox(app)
    client.post("/api/auth/register/", json={"email": EMAIL, "password": PASSWORD})
    client.post("/api/auth/email-verify/", json={"email": EMAIL,
                                                 "code": outbox.code("email", EMAIL)})
    access = client.post("/api/auth/login/", json={"email": EMAIL, "password": PASSWORD})
    access = access.json["tokens"]["access"]
    asked = client.post("/api/auth/email-change/", headers=bearer(access),
                        json={"new_email": THIEF})
    assert asked.status_code == 202
    client.post("/api/auth/email-change/confirm/", headers=bearer(access),
                json={"code": outbox.code("email", THIEF)})
    token = outbox.link_token(EMAIL, "/account/undo/")  # erasure blanks the message
    erased = client.delete("/api/auth/me/", headers=bearer(access))
    assert erased.status_code == 202 and erased.json["erase_at"] is None
    assert stored_user(app, email=THIEF) is None

    refused = client.post("/api/auth/email-change/undo/", json={
        "token": token, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert refused.status_code == 400 and refused.json["detail"] == DEAD
    _, opened, page = undo_in_browser(app, token, NEW_PASSWORD)
    assert "This link does not work" in opened and DEAD in opened  # before any password
    assert "This link does not work" in text(page) and DEAD in text(page)
