"""Access control for EVERY staff route and action, generated from app.url_map so that a
route added later is covered without touching this file."""

from __future__ import annotations

import pytest

from tests.helpers.app import (
    admin_requests,
    audit_rows,
    log_in,
    make_user,
    reload,
    services,
)
from webapp.interface.admin.views import ACTIONS


@pytest.fixture
def world(app):
    """A staff member, a plain user, a deactivated staff member, a target account with a
    queued message and an invitation: every URL parameter has something to point at."""
    app.config["WTF_CSRF_ENABLED"] = False  # this file is about who; test_admin_csrf is about CSRF
    staff = make_user(app, "boss@example.com", staff=True)
    plain = make_user(app, "plain@example.com")
    fired = make_user(app, "fired@example.com", staff=True, active=False)
    target = make_user(app, "target@example.com", verified=False)
    with app.app_context():
        services(app).verification.resend_email("target@example.com")
        invitation = services(app).invitations.invite(staff.id, "new@example.com")
        message_id = services(app).admin.queries.outbox(
            statuses=("pending",), kind=None, before_id=None, limit=1)[0].id
    values = {"user_id": target.id, "message_id": message_id,
              "invitation_id": invitation.id, "action": sorted(ACTIONS),
              "session_id": "0" * 32}
    return {"staff": staff, "plain": plain, "fired": fired, "target": target,
            "values": values}


def test_the_route_list_covers_every_page_and_action(app, world):
    requests = admin_requests(app, world["values"])
    urls = {url for _, url in requests}
    assert "/admin/" in urls and "/admin/users" in urls and "/admin/audit" in urls
    assert "/admin/queue" in urls and "/admin/invitations" in urls
    posts = [url for method, url in requests if method == "POST"]
    assert len([u for u in posts if "/admin/users/" in u]) == len(ACTIONS) + 1  # + end session
    assert any(u.endswith("/sessions/" + "0" * 32 + "/end") for u in posts)
    assert any(u.endswith("/resend") for u in posts) and any(u.endswith("/revoke") for u in posts)


def test_anonymous_visitors_are_sent_to_login(app, world, client):
    for method, url in admin_requests(app, world["values"]):
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url)
        assert response.location.startswith("/login?next="), (method, url)
    assert client.get("/admin/users?q=x").location == "/login?next=/admin/users%3Fq%3Dx"


def test_plain_users_get_403_and_an_authz_fail_event(app, world, client):
    log_in(client, world["plain"])
    requests = admin_requests(app, world["values"])
    for method, url in requests:
        assert client.open(url, method=method).status_code == 403, (method, url)
    fails = audit_rows(app, "authz_fail")
    assert len(fails) == len(requests)
    assert {f.user_id for f in fails} == {world["plain"].id}
    assert reload(app, world["target"].id).is_active  # nothing happened


def test_deactivated_staff_are_out(app, world, client):
    log_in(client, world["fired"])
    for method, url in admin_requests(app, world["values"]):
        response = client.open(url, method=method)
        assert response.status_code == 302 and response.location.startswith("/login"), url


def test_staff_lose_access_the_moment_they_are_demoted(app, world, client):
    log_in(client, world["staff"])
    assert client.get("/admin/").status_code == 200
    make_user(app, "second@example.com", staff=True)  # the last one is never demoted
    with app.app_context():
        services(app).admin.act(None, world["staff"].id, "demote")
    assert client.get("/admin/").status_code == 403


def test_staff_reach_every_page_and_action(app, world, client):
    log_in(client, world["staff"])
    for method, url in admin_requests(app, world["values"]):
        response = client.open(url, method=method)
        if method == "GET":
            assert response.status_code == 200, (method, url, response.status_code)
        else:  # done and redirected, or a form shown again with its errors (empty invite)
            assert response.status_code in (200, 302), (method, url, response.status_code)
            assert not (response.location or "").startswith("/login"), url
    assert audit_rows(app, "authz_admin")  # the actions ran, as staff


def test_unknown_action_is_404_for_staff(app, world, client):
    log_in(client, world["staff"])
    assert client.get(f"/admin/users/{world['target'].id}/delete").status_code == 404
    assert client.get("/admin/users/999999").status_code == 404
