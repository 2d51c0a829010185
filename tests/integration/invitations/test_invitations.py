"""Invitations through both doors: POST /api/auth/invitations/ (+ accept) and /invite/<token>."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import BILLING_ON, Outbox, make_app
from tests.helpers.app import (
    PASSWORD,
    audit_rows,
    bearer,
    csrf_token,
    log_in,
    make_user,
    services,
)
from webapp.domain.errors import InvalidToken, NotFound
from webapp.extensions import db
from webapp.infrastructure.orm import InvitationRow


@pytest.fixture
def app(tmp_path):  # noqa: ANN001, ANN201
    """Billing on: a verified account gets its Stripe customer job (off, it gets none).
    On the test database, which ``app_with`` apps share."""
    app = make_app(tmp_path, **BILLING_ON)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def staff_auth(app, client):
    make_user(app, "boss@example.com", staff=True)
    return bearer(client, "boss@example.com")


@pytest.fixture
def app_with(tmp_path):
    """Another app on the test database, with other settings; disposed afterwards."""
    made = []

    def _make(**overrides):
        made.append(make_app(tmp_path, **overrides))
        return made[-1]

    yield _make
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def invite(client, auth, outbox, email="new@example.com", **extra):
    response = client.post("/api/auth/invitations/", json={"email": email, **extra},
                           headers=auth)
    assert response.status_code == 201, response.json
    return response.json, outbox.link_token(email, "/invite/")


def test_staff_invite_and_the_invitee_accepts_by_api(client, staff_auth, outbox):
    invitation, token = invite(client, staff_auth, outbox, staff=True)
    assert invitation["state"] == "pending" and invitation["staff"] is True
    accepted = client.post("/api/auth/invitations/accept/", json={
        "token": token, "password": PASSWORD, "first_name": "Nia"})
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["user"]["email_verified"] is True
    assert accepted.json["user"]["first_name"] == "Nia"
    me = client.get("/api/auth/me/", headers={
        "Authorization": f"Bearer {accepted.json['tokens']['access']}"})
    assert me.json["email"] == "new@example.com"
    assert [j.payload["user_id"] for j in outbox.all("stripe_customer")] == [me.json["id"]]
    again = client.post("/api/auth/invitations/accept/", json={"token": token,
                                                               "password": PASSWORD})
    assert again.status_code == 400 and again.json["code"] == "invitation_used"


def test_only_staff_bearer_tokens_invite(app, client, outbox):
    make_user(app, "plain@example.com")
    assert client.post("/api/auth/invitations/", json={"email": "x@example.com"}
                       ).status_code == 401
    response = client.post("/api/auth/invitations/", json={"email": "x@example.com"},
                           headers=bearer(client, "plain@example.com"))
    assert response.status_code == 403 and response.json["code"] == "permission_denied"
    assert outbox.all("email") == []


def test_users_invite_when_the_setting_allows(app_with, outbox):
    app = app_with(INVITATIONS_BY_USERS=True)
    client = app.test_client()
    make_user(app, "plain@example.com")
    auth = bearer(client, "plain@example.com")
    assert client.post("/api/auth/invitations/", json={"email": "pal@example.com"},
                       headers=auth).status_code == 201
    assert client.post("/api/auth/invitations/", json={"email": "x@example.com",
                                                      "staff": True},
                       headers=auth).status_code == 403


def test_expired_revoked_wrong_address_and_tampered(app, client, staff_auth, outbox):
    first, expired = invite(client, staff_auth, outbox, "old@example.com")
    with app.app_context():
        db.session.execute(db.update(InvitationRow).where(InvitationRow.id == first["id"])
                           .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    second, revoked = invite(client, staff_auth, outbox, "gone@example.com")
    with app.app_context():
        services(app).invitations.revoke(None, second["id"])
    _, token = invite(client, staff_auth, outbox, "mine@example.com")

    def accept(**body):
        return client.post("/api/auth/invitations/accept/", json={"password": PASSWORD,
                                                                  **body})

    assert accept(token=expired).json["code"] == "invitation_expired"
    assert accept(token=revoked).json["code"] == "invitation_revoked"
    wrong = accept(token=token, email="thief@example.com")
    assert wrong.status_code == 400 and "different address" in wrong.json["errors"]["email"][0]
    assert accept(token=token[:-2] + "xx").status_code == 400
    assert accept(token=token).status_code == 200  # still usable after the refusals


@pytest.mark.parametrize("removal", ["demote", "deactivate"])
def test_a_staff_invitation_dies_with_its_inviters_staff_access(app, client, outbox, removal):
    """Removed staff keep no way back in: a staff invitation they sent beforehand (to an
    address of their own, say) no longer makes a staff account."""
    inviter = make_user(app, "leaving@example.com", staff=True)
    make_user(app, "boss@example.com", staff=True)
    _, token = invite(client, bearer(client, "leaving@example.com"), outbox,
                      "alt@example.com", staff=True)
    with app.app_context():
        boss_id = services(app).admin.user_id_for("boss@example.com")
        services(app).admin.act(boss_id, inviter.id, removal)
    page = client.get(f"/invite/{token}")
    assert page.status_code == 400 and "withdrawn" in page.text
    refused = client.post("/api/auth/invitations/accept/", json={"token": token,
                                                                 "password": PASSWORD})
    assert refused.status_code == 400 and refused.json["code"] == "invitation_revoked"
    with app.app_context():
        with pytest.raises(NotFound):  # no account was made
            services(app).admin.user_id_for("alt@example.com")
        # Staff who still want that person in send it again: they vouch for it now.
        invitation_id = services(app).admin.queries.invitations(pending_at=None, limit=5)[0].id
        services(app).invitations.resend(boss_id, invitation_id)
    token = outbox.link_token("alt@example.com", "/invite/")
    accepted = client.post("/api/auth/invitations/accept/", json={"token": token,
                                                                  "password": PASSWORD})
    assert accepted.status_code == 200 and accepted.json["user"]["email"] == "alt@example.com"


def listed_states(client):
    """The state column of /admin/invitations, row by row."""
    return re.findall(r'<td data-label="State"><span>([^<(]+)', client.get(
        "/admin/invitations").text)


@pytest.mark.parametrize("removal", ["demote", "deactivate", "delete"])
def test_the_staff_page_lists_a_staff_invitation_of_removed_staff_as_void(app, client, outbox,
                                                                          removal):
    """The page says what the link does: a staff invitation whose inviter is no longer
    staff is refused, so it is listed as void, not pending. Resending it is still offered
    (the resender vouches for it now), and makes it pending again."""
    inviter = make_user(app, "leaving@example.com", staff=True)
    boss = make_user(app, "boss@example.com", staff=True)
    invite(client, bearer(client, "leaving@example.com"), outbox, "alt@example.com",
           staff=True)
    with app.app_context():
        if removal == "delete":  # waiting for its erasure (ACCOUNT_DELETION_GRACE)
            assert services(app).account_data.delete_by_staff("leaving@example.com", boss.id)
        else:
            services(app).admin.act(boss.id, inviter.id, removal)
        invitation_id = db.session.scalar(db.select(InvitationRow.id))
    log_in(client, boss)
    assert listed_states(client) == ["void: the inviter is no longer staff"]
    listing = client.get("/admin/invitations").text
    assert f"/admin/invitations/{invitation_id}/resend" in listing
    token = csrf_token(client, "/admin/invitations")
    client.post(f"/admin/invitations/{invitation_id}/resend", data={"csrf_token": token})
    assert listed_states(client) == ["pending"]
    accepted = client.post("/api/auth/invitations/accept/", json={
        "token": outbox.link_token("alt@example.com", "/invite/"), "password": PASSWORD})
    assert accepted.status_code == 200, accepted.json


def test_a_staff_invitation_dies_with_its_erased_inviter(app_with, outbox):
    """Erasure takes the inviter's row away (the invitation's inviter becomes NULL, as the
    command line's are): their staff invitations are withdrawn first, not laundered."""
    app = app_with(ACCOUNT_DELETION_GRACE=0)
    client = app.test_client()
    make_user(app, "boss@example.com", staff=True)
    make_user(app, "leaving@example.com", staff=True)
    _, token = invite(client, bearer(client, "leaving@example.com"), Outbox(app),
                      "alt@example.com", staff=True)
    with app.app_context():
        assert services(app).account_data.delete_by_staff("leaving@example.com") is None
    refused = client.post("/api/auth/invitations/accept/", json={"token": token,
                                                                 "password": PASSWORD})
    assert refused.status_code == 400 and refused.json["code"] == "invitation_revoked"


def test_the_staff_page_says_when_an_invited_address_has_an_account_now(app, client, outbox):
    """Accepting and resending are refused once the address proved an account of its own:
    the page says so instead of a plain 'pending', and offers no Resend (Revoke stays)."""
    boss = make_user(app, "boss@example.com", staff=True)
    auth = bearer(client, "boss@example.com")
    sent, _ = invite(client, auth, outbox, "late@example.com")
    invite(client, auth, outbox, "open@example.com")
    make_user(app, "late@example.com")
    log_in(client, boss)
    assert listed_states(client) == ["pending", "pending: the address has an account now"]
    listing = client.get("/admin/invitations").text
    assert f"/admin/invitations/{sent['id']}/resend" not in listing
    assert f"/admin/invitations/{sent['id']}/revoke" in listing


def test_the_staff_page_gives_both_reasons_an_invitation_cannot_be_used(app, client, outbox):
    inviter = make_user(app, "leaving@example.com", staff=True)
    boss = make_user(app, "boss@example.com", staff=True)
    invite(client, bearer(client, "leaving@example.com"), outbox, "alt@example.com",
           staff=True)
    make_user(app, "alt@example.com")
    with app.app_context():
        services(app).admin.act(boss.id, inviter.id, "demote")
    log_in(client, boss)
    assert listed_states(client) == [
        "void: the inviter is no longer staff; the address has an account now"]


def test_the_data_export_says_a_staff_invitation_of_removed_staff_is_void(app, client,
                                                                        outbox):
    """The export goes by the rule the link and the staff page go by."""
    inviter = make_user(app, "leaving@example.com", staff=True)
    boss = make_user(app, "boss@example.com", staff=True)
    invite(client, bearer(client, "leaving@example.com"), outbox, "alt@example.com",
           staff=True)
    with app.app_context():
        services(app).admin.act(boss.id, inviter.id, "demote")
        data = services(app).account_data.export(inviter.id, datetime.now(UTC))
    assert [(i["direction"], i["state"]) for i in data["invitations"]] == [("sent", "void")]


def test_an_erased_inviters_expired_staff_invitation_is_withdrawn_too(app_with, outbox):
    """An expired staff invitation of an erased inviter is withdrawn with the pending ones:
    left alone, its inviter NULL would read as the command line's, and a resend would
    revive it as the operator's."""
    app = app_with(ACCOUNT_DELETION_GRACE=0)
    client = app.test_client()
    boss = make_user(app, "boss@example.com", staff=True)
    make_user(app, "leaving@example.com", staff=True)
    sent, _ = invite(client, bearer(client, "leaving@example.com"), Outbox(app),
                     "alt@example.com", staff=True)
    with app.app_context():
        db.session.execute(db.update(InvitationRow).where(InvitationRow.id == sent["id"])
                           .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
        assert services(app).account_data.delete_by_staff("leaving@example.com") is None
        with pytest.raises(InvalidToken) as refused:
            services(app).invitations.resend(boss.id, sent["id"])
    assert refused.value.code == "invitation_revoked"


def test_the_invite_page_creates_the_account_and_signs_in(app, client, staff_auth, outbox):
    invite(client, staff_auth, outbox, staff=True)
    token = outbox.link_token("new@example.com", "/invite/")
    browser = app.test_client()
    page = browser.get(f"/invite/{token}")
    assert page.status_code == 200 and "new@example.com" in page.text
    # the account's name for password managers, which save the new password under it
    assert ('<input type="email" autocomplete="username" value="new@example.com" hidden>'
            in page.text)
    csrf = csrf_token(browser, f"/invite/{token}")
    mismatch = browser.post(f"/invite/{token}", data={
        "csrf_token": csrf, "password": PASSWORD, "confirm_password": "something else"})
    assert "differ" in mismatch.text
    done = browser.post(f"/invite/{token}", data={
        "csrf_token": csrf, "password": PASSWORD, "confirm_password": PASSWORD,
        "first_name": "Nia"})
    assert done.status_code == 302 and done.location == "/admin/"  # invited as staff
    assert browser.get("/admin/").status_code == 200  # signed in, with staff access
    assert audit_rows(app, "authn_login_success")[-1].data == {}
    used = browser.get(f"/invite/{token}")
    assert used.status_code == 400 and "already been used" in used.text
    no_csrf = app.test_client().post(f"/invite/{token}", data={"password": PASSWORD})
    assert no_csrf.status_code == 400


def test_the_invite_page_of_an_address_registered_meanwhile_says_log_in_not_the_form(
        app, client, staff_auth, outbox):
    """The address got an account of its own (and proved it) after the invitation went
    out: accepting is refused whatever is typed, so the page says so at once instead of
    asking for a password first."""
    _, token = invite(client, staff_auth, outbox, "late@example.com")
    make_user(app, "late@example.com")
    page = client.get(f"/invite/{token}")
    assert page.status_code == 400
    assert "An account with this address already exists. Log in instead." in page.text
    assert "Create my account" not in page.text


def test_the_invite_page_tells_a_signed_in_user_that_accepting_signs_them_out(
        app, client, staff_auth, outbox):
    """Someone signed in who opens an invitation for another address (a shared computer,
    a forwarded link) is told before the account is made that it takes over the browser;
    then it does: the old session ends, the new account is signed in."""
    _, token = invite(client, staff_auth, outbox, "bob@example.com")
    alice = make_user(app, "alice@example.com")
    log_in(client, alice)
    page = client.get(f"/invite/{token}")
    assert "You are signed in as <strong>alice@example.com</strong>. Creating this " \
           "account signs you out of that one." in page.text
    sent = client.post(f"/invite/{token}", data={
        "csrf_token": csrf_token(client, f"/invite/{token}"), "password": PASSWORD,
        "confirm_password": PASSWORD})
    assert sent.status_code == 302
    account = client.get("/account").text
    assert "bob@example.com" in account and "alice@example.com" not in account


def test_the_invite_page_refuses_bad_input_like_every_other_form(app, client, staff_auth,
                                                                  outbox):
    _, token = invite(client, staff_auth, outbox)
    browser = app.test_client()
    csrf = csrf_token(browser, f"/invite/{token}")
    for password, confirm, message in [("short", "short", "at least 8 characters"),
                                       (PASSWORD, "something else", "differ")]:
        page = browser.post(f"/invite/{token}", data={
            "csrf_token": csrf, "password": password, "confirm_password": confirm,
            "first_name": "Nia"})
        assert page.status_code == 422, message  # as every page's form: not a 200
        assert message in page.text and 'aria-invalid="true"' in page.text
        assert 'value="Nia"' in page.text and password not in page.text


def test_the_invite_page_keeps_its_token_out_of_referers_and_caches(app, client, staff_auth,
                                                                    outbox):
    # Like /verify/<token> and /reset/<token>: the page's own stylesheet, script and
    # links must not carry the link's token to anyone's log in a Referer.
    _, token = invite(client, staff_auth, outbox)
    browser = app.test_client()
    for response in (browser.get(f"/invite/{token}"), browser.get(f"/invite/{token}x"),
                     browser.post(f"/invite/{token}", data={
                         "csrf_token": csrf_token(browser, f"/invite/{token}")})):
        assert response.headers["Referrer-Policy"] == "strict-origin"
        assert response.headers["Cache-Control"] == "no-store"


def _locked_out_invitation(app_factory):
    """An app with limits on, and an invitation to an address whose logins someone
    locked by guessing at it before it had an account."""
    app = app_factory(RATELIMIT_ENABLED=True)
    client, outbox = app.test_client(), Outbox(app)
    make_user(app, "boss@example.com", staff=True)
    _, token = invite(client, bearer(client, "boss@example.com"), outbox)
    for _ in range(5):
        client.post("/api/auth/login/", json={"email": "new@example.com", "password": "guess"})
    assert client.post("/api/auth/login/", json={
        "email": "new@example.com", "password": "guess"}).status_code == 429
    return app, token


@pytest.mark.parametrize("door", ["api", "page"])
def test_accepting_lifts_a_lockout_from_guesses_made_before_the_account(app_factory, door):
    # As a password reset does: the guesses were at an address with no account, the
    # password is new, and the invitee would otherwise find the account made but shut.
    app, token = _locked_out_invitation(app_factory)
    client = app.test_client()
    if door == "api":
        accepted = client.post("/api/auth/invitations/accept/", json={
            "token": token, "password": PASSWORD})
        assert accepted.status_code == 200, accepted.json
        assert accepted.json["tokens"]["access"]
    else:
        done = client.post(f"/invite/{token}", data={
            "csrf_token": csrf_token(client, f"/invite/{token}"), "password": PASSWORD,
            "confirm_password": PASSWORD})
        assert done.status_code == 302 and done.location == "/account", done.text
        assert client.get("/account").status_code == 200
    # a wrong password still counts from nothing, and locks again after five
    guesses = [client.post("/api/auth/login/", json={
        "email": "new@example.com", "password": "guess"}).status_code for _ in range(6)]
    assert guesses == [401] * 5 + [429]


def test_an_invitee_refused_at_sign_in_is_told_the_account_is_ready(app_factory,
                                                                    monkeypatch):
    # The account exists once accepted: a refusal at the sign-in that follows (one that
    # accepting does not lift) leads to the login page, not to "this invitation does
    # not work" (and then "already used").
    from webapp.domain.errors import Throttled

    app, token = _locked_out_invitation(app_factory)

    def refused(**_kwargs):  # noqa: ANN003, ANN202
        raise Throttled(60)

    monkeypatch.setattr(app.extensions["services"].signin, "with_password", refused)
    browser = app.test_client()
    done = browser.post(f"/invite/{token}", data={
        "csrf_token": csrf_token(browser, f"/invite/{token}"), "password": PASSWORD,
        "confirm_password": PASSWORD})
    assert done.status_code == 303 and done.location == "/login", done.text
    page = browser.get("/login").text
    assert "Your account is ready" in page and "Too many" in page
    assert audit_rows(app, "invitation_accepted")


def test_invite_only_registration_refuses_signup(app_with, outbox):
    app = app_with(REGISTRATION="invite")
    client = app.test_client()
    refused = client.post("/api/auth/register/", json={"email": "walk.in@example.com",
                                                       "password": PASSWORD})
    assert refused.status_code == 403 and refused.json["code"] == "registration_closed"
    shown = client.get("/signup")  # said at once, not after the form is filled in
    assert shown.status_code == 200 and "by invitation only" in shown.text
    assert 'name="password"' not in shown.text
    page = client.post("/signup", data={  # a form sent anyway is refused as before
        "csrf_token": csrf_token(client, "/login"), "email": "walk.in@example.com",
        "password": PASSWORD})
    assert "by invitation only" in page.text
    assert outbox.all("email", "walk.in@example.com") == []
    make_user(app, "boss@example.com", staff=True)
    _, token = invite(client, bearer(client, "boss@example.com"), outbox)
    accepted = client.post("/api/auth/invitations/accept/", json={"token": token,
                                                                  "password": PASSWORD})
    assert accepted.status_code == 200  # an invitation is the way in


def test_staff_page_invites_lists_resends_and_revokes(app, client, outbox):
    boss = make_user(app, "boss@example.com", staff=True)
    log_in(client, boss)
    token = csrf_token(client, "/admin/invitations")
    sent = client.post("/admin/invitations", data={"csrf_token": token,
                                                   "email": "new@example.com"})
    assert sent.status_code == 302
    listing = client.get("/admin/invitations").text
    assert "new@example.com" in listing and "pending" in listing
    duplicate = client.post("/admin/invitations", data={"csrf_token": token,
                                                        "email": "boss@example.com"})
    assert "already has an account" in duplicate.text
    with app.app_context():
        invitation_id = db.session.scalar(db.select(InvitationRow.id))
    client.post(f"/admin/invitations/{invitation_id}/resend", data={"csrf_token": token})
    assert len(outbox.all("email", "new@example.com")) == 2
    client.post(f"/admin/invitations/{invitation_id}/revoke", data={"csrf_token": token})
    assert "<td>new@example.com</td>" not in client.get("/admin/invitations").text
    assert "revoked" in client.get("/admin/invitations?all=1").text
    kinds = [r.kind for r in audit_rows(app) if r.actor_id == boss.id]
    assert kinds == ["user_invited", "invitation_resent", "invitation_revoked"]


def test_openapi_lists_the_invitation_endpoints(client):
    paths = client.get("/api/openapi.json").json["paths"]
    assert paths["/api/auth/invitations/"]["post"]["security"] == [{"bearer": []}]
    assert "403" in paths["/api/auth/invitations/"]["post"]["responses"]
    assert "200" in paths["/api/auth/invitations/accept/"]["post"]["responses"]


def test_an_address_registered_first_by_someone_else_does_not_block_its_invitation(
        client, staff_auth, outbox):
    # Someone registers the address about to be invited, with their own phone, and
    # proves the phone: the address sits unproven on their account.
    phone = "+14155552671"
    assert client.post("/api/auth/register/", json={
        "email": "new@example.com", "phone": phone,
        "password": "squatters own passphrase"}).status_code == 201
    assert client.post("/api/auth/phone-verify/", json={
        "phone": phone, "code": outbox.code("sms", phone)}).status_code == 200
    # Staff can still invite it, and the invitee gets an account of their own.
    _, token = invite(client, staff_auth, outbox)
    accepted = client.post("/api/auth/invitations/accept/", json={
        "token": token, "password": PASSWORD})
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["user"]["email"] == "new@example.com"
    assert accepted.json["user"]["phone"] is None
    squatter = client.post("/api/auth/login/", json={
        "phone": phone, "password": "squatters own passphrase"})
    assert squatter.status_code == 200 and squatter.json["user"]["email"] is None


def test_an_invitee_finishes_a_sign_up_of_their_address_that_proved_nothing(
        client, staff_auth, outbox):
    first = "first registrants passphrase"
    assert client.post("/api/auth/register/", json={
        "email": "new@example.com", "phone": "+14155552671",
        "password": first}).status_code == 201
    _, token = invite(client, staff_auth, outbox)
    accepted = client.post("/api/auth/invitations/accept/", json={
        "token": token, "password": PASSWORD, "first_name": "Nia"})
    assert accepted.status_code == 200, accepted.json
    user = accepted.json["user"]
    assert (user["email_verified"], user["phone"], user["first_name"]) == (True, None, "Nia")
    assert client.post("/api/auth/login/", json={
        "email": "new@example.com", "password": first}).status_code == 401
