"""Changing an address, exporting and deleting through the JSON API (SQLite and
PostgreSQL), with the real adapters: signer, repositories, outbox, migrations' schema."""

from __future__ import annotations

import json

from tests.conftest import PASSWORD
from tests.helpers.app import audit_rows, set_user_columns
from tests.integration.api.conftest import bearer, stored_user
from webapp.extensions import db
from webapp.infrastructure.orm import BillingEventRow

EMAIL = "jane@example.com"
NEW = "jane.new@example.com"
NEW_PASSWORD = "a completely new passphrase"


def _login(client, email=EMAIL, password=PASSWORD):
    return client.post("/api/auth/login/", json={"email": email, "password": password})


def _change(client, tokens, outbox):
    asked = client.post("/api/auth/email-change/", headers=bearer(tokens["access"]),
                        json={"new_email": NEW})
    assert asked.status_code == 202, asked.json
    return outbox.code("email", NEW)


def test_change_confirm_and_undo(client, tokens, outbox, app):
    code = _change(client, tokens, outbox)
    assert stored_user(app, email=EMAIL) is not None  # nothing changed yet
    assert outbox.last("email", EMAIL).payload["template"] == "address_change_requested"
    done = client.post("/api/auth/email-change/confirm/", headers=bearer(tokens["access"]),
                       json={"code": code})
    assert done.status_code == 200, done.json
    assert done.json["email"] == NEW and done.json["email_verified"] is True
    assert _login(client, NEW).status_code == 200
    undo = outbox.link_token(EMAIL, "/account/undo/")
    bad = client.post("/api/auth/email-change/undo/", json={
        "token": undo, "new_password": NEW_PASSWORD, "confirm_password": "different one"})
    assert bad.status_code == 400 and "confirm_password" in bad.json["errors"]
    back = client.post("/api/auth/email-change/undo/", json={
        "token": undo, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert back.status_code == 200, back.json
    assert client.get("/api/auth/me/", headers=bearer(tokens["access"])).status_code == 401
    assert _login(client, EMAIL, NEW_PASSWORD).status_code == 200
    assert _login(client, NEW, NEW_PASSWORD).status_code == 401
    again = client.post("/api/auth/email-change/undo/", json={
        "token": undo, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert again.status_code == 400


def test_confirm_by_the_emailed_link_token(client, tokens, outbox):
    _change(client, tokens, outbox)
    token = outbox.link_token(NEW, "/account/email/confirm/")
    done = client.post("/api/auth/email-change/confirm/", headers=bearer(tokens["access"]),
                       json={"token": token})
    assert done.status_code == 200 and done.json["email"] == NEW


def test_taken_address_gets_the_same_answer(client, tokens, outbox, register):
    register(NEW)
    before = len(outbox.all("email", NEW))
    taken = client.post("/api/auth/email-change/", headers=bearer(tokens["access"]),
                        json={"new_email": NEW})
    free = client.post("/api/auth/email-change/", headers=bearer(tokens["access"]),
                       json={"new_email": "free@example.com"})
    assert (taken.status_code, taken.json) == (free.status_code, free.json)
    # NEW's account is unverified: its owner is told "someone tried", not sent a code
    assert [m.payload["template"] for m in outbox.all("email", NEW)[before:]] == [
        "address_taken"]


def test_bad_input_is_a_clear_400(client, tokens):
    auth = bearer(tokens["access"])
    for body in ({"new_email": "not-an-address"}, {"new_email": EMAIL}, {"new_email": ""},
                 {}):
        answer = client.post("/api/auth/email-change/", headers=auth, json=body)
        assert answer.status_code == 400, (body, answer.json)
    wrong = client.post("/api/auth/email-change/confirm/", headers=auth,
                        json={"code": "000000"})
    assert wrong.status_code == 400
    forged = client.post("/api/auth/email-change/undo/", json={
        "token": "forged", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert forged.status_code == 400
    cancel = client.post("/api/auth/me/delete/cancel/", json={"token": "forged"})
    assert cancel.status_code == 400


def test_fresh_endpoints_need_a_recent_sign_in(client, clock, tokens):
    clock.advance(minutes=6)
    auth = bearer(tokens["access"])
    for method, path, body in (("post", "/api/auth/email-change/", {"new_email": NEW}),
                               ("post", "/api/auth/phone-change/", {"new_phone": "+14155550199"}),
                               ("get", "/api/auth/me/export/", None),
                               ("delete", "/api/auth/me/", None)):
        answer = getattr(client, method)(path, headers=auth, json=body)
        assert answer.status_code == 403, path
        assert answer.json["code"] == "reauthentication_required"


def test_phone_added_then_removed(client, tokens, outbox, app):
    auth = bearer(tokens["access"])
    phone = "+14155550199"
    assert client.post("/api/auth/phone-change/", headers=auth,
                       json={"new_phone": phone}).status_code == 202
    done = client.post("/api/auth/phone-change/confirm/", headers=auth,
                       json={"code": outbox.code("sms", phone)})
    assert done.status_code == 200 and done.json["phone"] == phone
    gone = client.post("/api/auth/phone-change/", headers=auth, json={"new_phone": ""})
    assert gone.status_code == 202
    assert stored_user(app, email=EMAIL).phone is None
    last = client.post("/api/auth/email-change/", headers=auth, json={"new_email": ""})
    assert last.status_code == 400  # never the last proven address


def test_export_is_an_attachment_with_no_secrets(client, tokens, app):
    answer = client.get("/api/auth/me/export/", headers=bearer(tokens["access"]))
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(answer.get_data())
    assert data["addresses"][0]["address"] == EMAIL and data["sessions"]
    assert {e["event"] for e in data["activity"]} >= {"authn_login_success"}
    user = stored_user(app, email=EMAIL)
    assert user.password_hash not in answer.get_data(as_text=True)
    assert "account_exported" in [row.kind for row in audit_rows(app)]


def test_deletion_with_grace_then_cancel(client, tokens, outbox, app):
    answer = client.delete("/api/auth/me/", headers=bearer(tokens["access"]))
    assert answer.status_code == 202 and answer.json["erase_at"]
    assert client.get("/api/auth/me/", headers=bearer(tokens["access"])).status_code == 401
    assert _login(client).status_code == 401
    token = outbox.link_token(EMAIL, "/account/delete/cancel/")
    kept = client.post("/api/auth/me/delete/cancel/", json={"token": token})
    assert kept.status_code == 200
    assert _login(client).status_code == 200
    assert client.post("/api/auth/me/delete/cancel/", json={"token": token}).status_code == 400


def test_deletion_after_the_grace_erases_and_frees_the_address(client, clock, tokens, app,
                                                               register):
    user_id = stored_user(app, email=EMAIL).id
    set_user_columns(app, user_id, stripe_customer_id="cus_gone")
    with app.app_context():  # Stripe's events about the customer carry its email
        for event_id, customer in (("evt_mine", "cus_gone"), ("evt_other", "cus_other")):
            db.session.add(BillingEventRow(
                id=event_id, type="customer.updated", created=clock.now(),
                received_at=clock.now(),
                payload={"data": {"object": {"customer": customer, "email": EMAIL}}}))
        db.session.commit()
    client.delete("/api/auth/me/", headers=bearer(tokens["access"]))
    clock.advance(days=7, seconds=1)
    with app.app_context():
        app.extensions["services"].delivery.deliver_due("test")
    assert stored_user(app, email=EMAIL) is None
    rows = audit_rows(app)
    assert rows and all(row.user_id != user_id and EMAIL not in json.dumps(row.data)
                        for row in rows)
    with app.app_context():
        assert db.session.get(BillingEventRow, "evt_mine").payload == {"redacted": True}
        assert db.session.get(BillingEventRow, "evt_other").payload["data"]
    register(EMAIL)  # free again: a new, unverified account holds it
    assert stored_user(app, email=EMAIL).email_verified_at is None


def test_grace_zero_erases_at_once(app_factory):
    app = app_factory(ACCOUNT_DELETION_GRACE=0)
    client = app.test_client()
    client.post("/api/auth/register/", json={"email": EMAIL, "password": PASSWORD})
    from tests.conftest import Outbox

    code = Outbox(app).code("email", EMAIL)
    client.post("/api/auth/email-verify/", json={"email": EMAIL, "code": code})
    access = _login(client).json["tokens"]["access"]
    answer = client.delete("/api/auth/me/", headers=bearer(access))
    assert answer.status_code == 202 and answer.json["erase_at"] is None
    assert stored_user(app, email=EMAIL) is None


def test_openapi_documents_every_new_endpoint(client):
    paths = client.get("/api/openapi.json").json["paths"]
    for path in ("/api/auth/email-change/", "/api/auth/email-change/confirm/",
                 "/api/auth/email-change/undo/", "/api/auth/phone-change/",
                 "/api/auth/phone-change/confirm/", "/api/auth/me/export/",
                 "/api/auth/me/delete/cancel/"):
        assert path in paths, path
    assert "delete" in paths["/api/auth/me/"]


def test_staff_command_deletes_and_the_last_staff_member_stays(app, runner, verified_user):
    refused = runner.invoke(args=["users", "create-admin", "boss@example.com",
                                  "--password", "a staff passphrase here"])
    assert refused.exit_code == 0, refused.output
    last = runner.invoke(args=["users", "delete", "boss@example.com", "--yes"])
    assert last.exit_code != 0 and "last staff" in last.output
    done = runner.invoke(args=["users", "delete", EMAIL, "--yes"])
    assert done.exit_code == 0, done.output
    assert stored_user(app, email=EMAIL).deletion_due_at is not None


def test_undoing_a_change_kills_the_undo_links_of_later_changes(client, tokens, outbox, app):
    """A hijacker moves the email twice (A -> B -> C): the owner's undo link (sent to A)
    takes the account back; the hijacker's own undo link (sent to B, for B -> C) must not
    take it again afterwards."""
    auth = bearer(tokens["access"])
    client.post("/api/auth/email-change/confirm/", headers=auth,
                json={"code": _change(client, tokens, outbox)})
    third = "third@example.com"
    assert client.post("/api/auth/email-change/", headers=auth,
                       json={"new_email": third}).status_code == 202
    done = client.post("/api/auth/email-change/confirm/", headers=auth,
                       json={"code": outbox.code("email", third)})
    assert done.status_code == 200 and done.json["email"] == third
    owners = outbox.link_token(EMAIL, "/account/undo/")
    hijackers = outbox.link_token(NEW, "/account/undo/")
    back = client.post("/api/auth/email-change/undo/", json={
        "token": owners, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert back.status_code == 200, back.json
    retaken = client.post("/api/auth/email-change/undo/", json={
        "token": hijackers, "new_password": "the hijacker's passphrase",
        "confirm_password": "the hijacker's passphrase"})
    assert retaken.status_code == 400, retaken.json
    assert stored_user(app, email=EMAIL) is not None
    assert _login(client, EMAIL, NEW_PASSWORD).status_code == 200


def test_export_lists_the_passkeys(client, tokens):
    """A second factor that is on is in the export: passkeys too, by name (never a key)."""
    from tests.helpers.webauthn import SoftAuthenticator

    auth = bearer(tokens["access"])
    options = client.post("/api/auth/passkeys/register/options/", headers=auth)
    device = SoftAuthenticator(origin="http://testserver")
    created = client.post("/api/auth/passkeys/register/", headers=auth, json={
        "credential": device.create(options.json), "name": "Work laptop"})
    assert created.status_code == 201, created.json
    answer = client.get("/api/auth/me/export/", headers=auth)
    factors = json.loads(answer.get_data())["second_factors"]
    assert factors["kinds"] == ["passkey"]
    assert [p["name"] for p in factors["passkeys"]] == ["Work laptop"]
    assert "public_key" not in json.dumps(factors) and "credential_id" not in json.dumps(factors)


def test_erasure_is_one_transaction(app, verified_user):
    """The session store commits each of its own steps on the same database session:
    called in the middle of the erasure, it committed the erasure before its end (a
    failure after that point could not roll it back)."""
    services, ports = app.extensions["services"], app.extensions["ports"]
    with app.app_context(), ports.uow() as uow:
        user = uow.users.get_by_email(EMAIL, lock=True)
        services.account_data.erase(uow, user, keep_message=None)
        # not committed: the unit of work rolls back
    assert stored_user(app, email=EMAIL) is not None


def test_a_reset_sent_to_the_previous_address_dies_with_the_change(client, tokens, outbox):
    """The owner moves away from an address (say, a mailbox that was broken into): a
    reset link or code sent there before the change must not set the password after it."""
    assert client.post("/api/auth/password-reset/", json={"email": EMAIL}).status_code == 202
    link = outbox.link_token(EMAIL, "/reset/")
    old_code = outbox.code("email", EMAIL)
    client.post("/api/auth/email-change/confirm/", headers=bearer(tokens["access"]),
                json={"code": _change(client, tokens, outbox)})
    by_link = client.post("/api/auth/password-reset/confirm/", json={
        "token": link, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert by_link.status_code == 400, by_link.json
    by_code = client.post("/api/auth/password-reset/confirm/", json={
        "email": NEW, "code": old_code, "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD})
    assert by_code.status_code == 400, by_code.json
    assert _login(client, NEW).status_code == 200  # the password is unchanged


SQUATTER_PHONE = "+14155550177"


def _squat(client, register, outbox, email):
    """Someone registers ``email`` (not theirs, never proven) beside their own phone,
    which they verify: the address proves nothing on that account."""
    register(email, phone=SQUATTER_PHONE)
    verified = client.post("/api/auth/phone-verify/", json={
        "phone": SQUATTER_PHONE, "code": outbox.code("sms", SQUATTER_PHONE)})
    assert verified.status_code == 200, verified.json


def test_an_address_squatted_unproven_does_not_block_moving_to_it(client, tokens, outbox,
                                                                  app, register):
    _squat(client, register, outbox, NEW)
    code = _change(client, tokens, outbox)  # the code goes to the address: it is not taken
    done = client.post("/api/auth/email-change/confirm/", headers=bearer(tokens["access"]),
                       json={"code": code})
    assert done.status_code == 200 and done.json["email"] == NEW, done.json
    assert stored_user(app, phone=SQUATTER_PHONE).email is None  # it left that account


def test_an_address_squatted_unproven_does_not_block_taking_the_account_back(
        client, tokens, outbox, app, register):
    """A hijacker moves the email away, then registers the old address beside their own
    phone, so that the owner's undo link would find it "taken": it still works."""
    client.post("/api/auth/email-change/confirm/", headers=bearer(tokens["access"]),
                json={"code": _change(client, tokens, outbox)})
    undo = outbox.link_token(EMAIL, "/account/undo/")
    _squat(client, register, outbox, EMAIL)
    back = client.post("/api/auth/email-change/undo/", json={
        "token": undo, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert back.status_code == 200, back.json
    assert _login(client, EMAIL, NEW_PASSWORD).status_code == 200
    assert stored_user(app, phone=SQUATTER_PHONE).email is None


def test_taking_the_account_back_removes_a_phone_the_hijacker_added(client, tokens, outbox,
                                                                   app):
    """A hijacker adds their own phone, then moves the email away. The owner's undo link
    must not leave them the phone: with it they could reset the password by SMS."""
    auth = bearer(tokens["access"])
    hijacker = "+14155550188"
    client.post("/api/auth/phone-change/", headers=auth, json={"new_phone": hijacker})
    added = client.post("/api/auth/phone-change/confirm/", headers=auth,
                        json={"code": outbox.code("sms", hijacker)})
    assert added.status_code == 200 and added.json["phone"] == hijacker
    client.post("/api/auth/email-change/confirm/", headers=auth,
                json={"code": _change(client, tokens, outbox)})
    back = client.post("/api/auth/email-change/undo/", json={
        "token": outbox.link_token(EMAIL, "/account/undo/"), "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD})
    assert back.status_code == 200, back.json
    assert stored_user(app, email=EMAIL).phone is None
    texts = len(outbox.all("sms", hijacker))
    client.post("/api/auth/password-reset/", json={"phone": hijacker})
    assert len(outbox.all("sms", hijacker)) == texts  # no reset code for them


def test_signing_up_with_the_address_of_an_account_waiting_for_erasure(client, tokens, outbox):
    """Carried over: its owner was mailed "log in or reset your password", both refused
    until the erasure. Now the message says when it goes and carries a working cancel
    link; the API and the page answer exactly as for a new address."""
    from tests.integration.api.conftest import comparable
    from tests.integration.web.conftest import flashes, signup

    client.delete("/api/auth/me/", headers=bearer(tokens["access"]))
    register = {"email": EMAIL, "password": "another passphrase"}
    fresh = client.post("/api/auth/register/", json={**register, "email": "new@example.com"})
    taken = client.post("/api/auth/register/", json=register)
    assert comparable(taken) == comparable(fresh)
    page = signup(client, email=EMAIL)
    seen = (page.status_code, page.headers["Location"], flashes(client))
    client.get("/verify")  # shows (and spends) the flash
    other = signup(client, email="other@example.com")
    assert seen == (other.status_code, other.headers["Location"], flashes(client))
    notice = outbox.last("email", EMAIL).payload
    assert notice["template"] == "account_exists_deleting" and "erased" in notice["text"]
    token = outbox.link_token(EMAIL, "/account/delete/cancel/")
    assert client.post("/api/auth/me/delete/cancel/", json={"token": token}).status_code == 200
    assert _login(client).status_code == 200


def test_a_number_of_an_account_waiting_for_erasure_is_texted_its_cancel_link(client, outbox):
    from tests.integration.api.conftest import PHONE

    client.post("/api/auth/register/", json={"phone": PHONE, "password": PASSWORD})
    client.post("/api/auth/phone-verify/", json={"phone": PHONE,
                                                  "code": outbox.code("sms", PHONE)})
    tokens = client.post("/api/auth/login/", json={"phone": PHONE, "password": PASSWORD})
    client.delete("/api/auth/me/", headers=bearer(tokens.json["tokens"]["access"]))
    again = client.post("/api/auth/register/", json={"phone": PHONE, "password": PASSWORD})
    assert again.status_code == 201
    text = outbox.last("sms", PHONE).payload
    assert text["template"] == "account_exists_deleting"
    token = text["body"].split("/account/delete/cancel/", 1)[1].split()[0]
    assert client.post("/api/auth/me/delete/cancel/", json={"token": token}).status_code == 200
