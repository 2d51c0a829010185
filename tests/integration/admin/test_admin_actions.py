"""Each staff action: its confirmation step, its CSRF protection, its effect and its audit
entry naming the acting staff member."""

from __future__ import annotations

import pytest

from tests.conftest import BILLING_ON
from tests.helpers.app import (
    PASSWORD,
    admin_requests,
    audit_rows,
    csrf_token,
    log_in,
    make_user,
    reload,
    services,
)
from webapp.domain.errors import ActionRefused
from webapp.interface.admin.views import ACTIONS


@pytest.fixture
def app(app_factory):  # noqa: ANN001, ANN201
    """Billing on: a verified account gets its Stripe customer job (off, it gets none)."""
    return app_factory(**BILLING_ON)


@pytest.fixture
def staff(app, client):
    boss = make_user(app, "boss@example.com", staff=True, first_name="Bo")
    log_in(client, boss)
    return boss


def act(client, user_id, action):
    """What a staff member does: open the confirmation, then confirm with its form."""
    confirm = client.get(f"/admin/users/{user_id}/{action}")
    assert confirm.status_code == 200
    assert "Yes, " in confirm.text  # the confirmation step
    token = csrf_token(client, f"/admin/users/{user_id}/{action}")
    return client.post(f"/admin/users/{user_id}/{action}", data={"csrf_token": token})


def last_admin_event(app):
    return audit_rows(app, "authz_admin")[-1]


def test_every_post_without_the_csrf_token_is_refused_and_does_nothing(app, client, staff):
    target = make_user(app, "target@example.com", verified=False)
    with app.app_context():
        invitation = services(app).invitations.invite(staff.id, "new@example.com")
    message_id = invitation.id  # any id: the request must stop before the view
    values = {"user_id": target.id, "message_id": message_id,
              "invitation_id": invitation.id, "action": sorted(ACTIONS), "session_id": "0" * 32}
    posts = [url for method, url in admin_requests(app, values) if method == "POST"]
    assert posts
    for url in posts:
        response = client.post(url, data={"csrf_token": "forged"})
        assert response.status_code == 400, url
        assert client.post(url).status_code == 400, url
    assert audit_rows(app, "authz_admin") == []
    assert reload(app, target.id).is_active and not reload(app, target.id).is_verified


def test_deactivate_revokes_every_token_and_session_at_once(app, client, staff):
    make_user(app, "jane@example.com")
    api = app.test_client()
    tokens = api.post("/api/auth/login/", json={"email": "jane@example.com",
                                                "password": PASSWORD}).json["tokens"]
    jane_id = api.get("/api/auth/me/", headers={"Authorization": f"Bearer {tokens['access']}"}
                      ).json["id"]
    browser = app.test_client()
    log_in(browser, reload(app, jane_id))

    response = act(client, jane_id, "deactivate")
    assert response.status_code == 302
    assert "Deactivated" in client.get(response.location).text

    assert not reload(app, jane_id).is_active
    bearer = {"Authorization": f"Bearer {tokens['access']}"}
    assert api.get("/api/auth/me/", headers=bearer).status_code == 401
    assert api.post("/api/auth/token/refresh/",
                    json={"refresh": tokens["refresh"]}).status_code == 401
    assert api.post("/api/auth/login/", json={"email": "jane@example.com",
                                              "password": PASSWORD}).status_code == 401
    with browser.session_transaction() as sess:
        user_key = sess["_user_id"]
    with app.test_request_context():
        from webapp.interface.web.session import load_user
        assert load_user(user_key) is None  # the browser session is dead too
    event = last_admin_event(app)
    assert (event.user_id, event.actor_id, event.data["action"]) == (jane_id, staff.id,
                                                                     "deactivate")
    assert event.request_id and event.ip == "127.0.0.1"

    assert act(client, jane_id, "reactivate").status_code == 302
    assert reload(app, jane_id).is_active
    assert api.post("/api/auth/login/", json={"email": "jane@example.com",
                                              "password": PASSWORD}).status_code == 200


def test_mark_verified_queues_the_stripe_customer(app, client, staff, outbox):
    user = make_user(app, "late@example.com", verified=False)
    act(client, user.id, "mark_verified")
    assert reload(app, user.id).email_verified_at is not None
    jobs = outbox.all("stripe_customer")
    assert [j.payload["user_id"] for j in jobs] == [user.id]
    assert [e.kind for e in audit_rows(app)][-2:] == ["user_verified", "authz_admin"]
    assert last_admin_event(app).actor_id == staff.id
    response = act(client, user.id, "mark_verified")  # twice: refused, said plainly
    assert "already verified" in client.get(response.location).text


def test_resend_verification_and_password_reset_queue_messages(app, client, staff, outbox):
    user = make_user(app, "pending@example.com", verified=False)
    act(client, user.id, "resend_verification")
    assert outbox.last("email", "pending@example.com").payload["template"] == "verify"
    assert last_admin_event(app).data["action"] == "resend_verification"
    act(client, user.id, "send_reset")
    assert outbox.last("email", "pending@example.com").payload["template"] == "reset"
    requested = audit_rows(app, "authn_password_reset_requested")[-1]
    assert requested.actor_id == staff.id


def test_revoke_sessions_kills_refresh_tokens(app, client, staff):
    make_user(app, "jane@example.com")
    api = app.test_client()
    login = api.post("/api/auth/login/", json={"email": "jane@example.com",
                                               "password": PASSWORD}).json
    act(client, login["user"]["id"], "revoke_sessions")
    assert api.post("/api/auth/token/refresh/",
                    json={"refresh": login["tokens"]["refresh"]}).status_code == 401
    assert api.post("/api/auth/login/", json={"email": "jane@example.com",
                                              "password": PASSWORD}).status_code == 200
    assert last_admin_event(app).data["action"] == "revoke_sessions"


def test_retry_stripe_requeues_the_failed_job(app, client, staff, outbox):
    from webapp.extensions import db
    from webapp.infrastructure.orm import OutboxRow

    user = make_user(app, "cust@example.com", verified=False)
    act(client, user.id, "mark_verified")
    with app.app_context():
        db.session.execute(db.update(OutboxRow).values(status="failed", attempts=10,
                                                       last_error="APIConnectionError"))
        db.session.commit()
    act(client, user.id, "retry_stripe")
    job = outbox.all("stripe_customer")
    assert len(job) == 1 and job[0].status == "pending" and job[0].attempts == 0
    assert last_admin_event(app).data["action"] == "retry_stripe"


def test_promote_and_demote_with_an_authz_change_event(app, client, staff):
    user = make_user(app, "helper@example.com")
    act(client, user.id, "promote")
    assert reload(app, user.id).is_staff
    change = audit_rows(app, "authz_change")[-1]
    assert (change.user_id, change.actor_id, change.data["granted"]) == (user.id, staff.id,
                                                                         True)
    act(client, user.id, "demote")
    assert not reload(app, user.id).is_staff


def test_staff_cannot_lock_themselves_out(app, client, staff):
    for action in ("deactivate", "demote"):
        response = act(client, staff.id, action)
        assert "cannot" in client.get(response.location).text
    me = reload(app, staff.id)
    assert me.is_active and me.is_staff


def test_user_page_shows_logins_tokens_messages_and_trail(app, client, staff):
    make_user(app, "jane@example.com", first_name="Jane", last_name="Doe")
    api = app.test_client()
    login = api.post("/api/auth/login/", json={"email": "jane@example.com",
                                               "password": PASSWORD},
                     headers={"User-Agent": "JaneBrowser/1.0"}).json
    user_id = login["user"]["id"]
    act(client, user_id, "send_reset")
    page = client.get(f"/admin/users/{user_id}").text
    assert "Jane Doe" in page and "JaneBrowser/1.0" in page  # login and token family
    assert "authn_login_success" in page and "boss@example.com" in page  # trail, by staff
    assert ">reset<" in page  # the queued message


def test_delivery_queue_lists_failures_and_retries(app, client, staff, outbox):
    from webapp.extensions import db
    from webapp.infrastructure.orm import OutboxRow

    user = make_user(app, "pending@example.com", verified=False)
    with app.app_context():
        services(app).verification.resend_email("pending@example.com")
        db.session.execute(db.update(OutboxRow).values(
            status="failed", attempts=10, last_error="SMTPServerDisconnected: gone"))
        db.session.commit()
    page = client.get("/admin/queue?status=failed")
    assert "SMTPServerDisconnected: gone" in page.text
    message_id = outbox.all("email")[0].id
    token = csrf_token(client, "/admin/queue?status=failed")
    response = client.post(f"/admin/queue/{message_id}/retry", data={"csrf_token": token})
    assert response.status_code == 302
    assert outbox.all("email")[0].status == "pending"
    event = last_admin_event(app)
    assert (event.user_id, event.data["action"]) == (user.id, "retry_delivery")
    assert client.get("/admin/queue?status=bogus").status_code == 400


def test_a_message_of_an_erased_account_is_not_retried(app_factory):
    """Erasure keeps the message's row without its address or content: a retry could only
    fail again and again, so it is refused, and nothing is queued."""
    app = app_factory(ACCOUNT_DELETION_GRACE=0)
    boss = make_user(app, "boss@example.com", staff=True)
    make_user(app, "gone@example.com", verified=False)
    with app.app_context():
        services(app).verification.resend_email("gone@example.com")
        services(app).account_data.delete_by_staff("gone@example.com")
        [message] = services(app).admin.queries.outbox(
            statuses=("failed",), kind=None, before_id=None, limit=10)
        with pytest.raises(ActionRefused, match="erased"):
            services(app).admin.retry_message(boss.id, message.id)
        assert services(app).admin.queries.outbox(
            statuses=("pending",), kind=None, before_id=None, limit=10) == []
    browser = app.test_client()
    log_in(browser, boss)
    page = browser.get("/admin/queue?status=failed").text
    assert "account erased" in page and "Retry now" not in page  # no button for it either


def test_an_account_waiting_for_deletion_is_not_reactivated(app, client, staff):
    """Deletion deactivates the account until its erasure. "Reactivate" would let it sign
    in again while the erasure stays due: staff are told instead, and not offered it."""
    user = make_user(app, "leaving@example.com")
    with app.app_context():
        assert services(app).account_data.delete_by_staff("leaving@example.com") is not None
    page = client.get(f"/admin/users/{user.id}").text
    assert "waiting for deletion" in page and "/reactivate" not in page
    with app.app_context(), pytest.raises(ActionRefused, match="deletion"):
        services(app).admin.act(staff.id, user.id, "reactivate")
    assert not reload(app, user.id).is_active


def test_audit_page_filters_by_user_and_kind(app, client, staff):
    make_user(app, "jane@example.com")
    api = app.test_client()
    api.post("/api/auth/login/", json={"email": "jane@example.com", "password": "wrong one"})
    api.post("/api/auth/login/", json={"email": "jane@example.com", "password": PASSWORD},
             headers={"X-Request-ID": "req-abc-123"})
    page = client.get("/admin/audit?user=jane@example.com&kind=authn_login_success").text
    assert "req-abc-123" in page and "authn_login_fail</code>" not in page
    assert "Time (UTC)</th>" in page and '+00:00">' in page  # said once, in the header
    fails = client.get("/admin/audit?kind=authn_login_fail").text
    assert "reason=wrong_password" in fails and "req-abc-123" not in fails
    assert "No events." in client.get("/admin/audit?user=nobody@example.com").text


def test_dashboard_draws_the_funnel_without_inline_style_or_script(app, client, staff):
    make_user(app, "a@example.com", customer="cus_1")
    make_user(app, "b@example.com", verified=False)
    page = client.get("/admin/")
    assert page.status_code == 200
    html = page.text
    assert "<svg" in html and 'class="bar bar-signups"' in html and "bar-customers" in html
    assert "style=" not in html and "<script>" not in html and "onclick" not in html
    assert "Signed up: <strong>3</strong>" in html  # staff + a + b, all today
    assert "Stripe customer: <strong>1</strong>" in html
    assert "admin.css" in html


def test_an_account_waiting_for_deletion_is_not_made_staff(app, client, staff):
    """Made staff, it would be a staff member that the erasure removes when due (as
    ``flask users create-admin`` is refused too); the page offers no such action, nor the
    verification and Stripe actions that would build on an account about to go."""
    user = make_user(app, "leaving@example.com", verified=False)
    with app.app_context():
        assert services(app).account_data.delete_by_staff("leaving@example.com") is not None
    page = client.get(f"/admin/users/{user.id}").text
    for action in ("promote", "mark_verified", "resend_verification", "retry_stripe"):
        assert f"/{action}" not in page, action
    with app.app_context(), pytest.raises(ActionRefused, match="deletion"):
        services(app).admin.act(staff.id, user.id, "promote")
    assert not reload(app, user.id).is_staff
