"""New-device notices through the doors (the device cookie, API clients), the activity
page, and the staff user page's sessions; on both session stores."""

from __future__ import annotations

import re

from flask import Flask

from tests.conftest import log_in_browser
from tests.helpers.app import make_user
from tests.integration.sessions.conftest import CHROME_MAC, FIREFOX
from tests.integration.web.conftest import login, submit, text
from webapp.application.activity import SECURITY_EVENTS
from webapp.interface.web.sessions import EVENT_LABELS


def notices(outbox, to: str = "jane@example.com") -> list:
    return [m for m in outbox.all("email", to) if m.payload["template"] == "new_device"]


def browser(app: Flask, agent: str = FIREFOX):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = agent
    return client


def test_a_second_browser_triggers_exactly_one_notice(app, verified_user, outbox):
    email, password = verified_user
    first = browser(app)
    login(first, email, password)  # the first sign-in after registering: not announced
    submit(first, "/logout")
    login(first, email, password)  # the same browser (its device cookie): known
    assert notices(outbox) == []
    device = first.get_cookie("device")
    assert device is not None and device.http_only and device.max_age and \
        device.max_age > 300 * 24 * 3600
    second = browser(app, CHROME_MAC)
    login(second, email, password)
    submit(second, "/logout")
    login(second, email, password)  # known now: not announced again
    [notice] = notices(outbox)
    body = notice.payload["text"]
    assert notice.payload["subject"] == "New sign-in to your Accounts account"
    assert "Device: Chrome on Mac OS X" in body and "IP address: 127.0.0.1" in body
    assert "http://testserver/account/sessions" in body and " UTC" in body


def test_a_tampered_device_cookie_is_just_an_unknown_device(app, verified_user, outbox):
    email, password = verified_user
    first = browser(app)
    login(first, email, password)
    value = first.get_cookie("device").value
    forged = browser(app)
    forged.set_cookie("device", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert login(forged, email, password).status_code == 303  # signs in all the same
    assert len(notices(outbox)) == 1
    assert forged.get_cookie("device").value != value  # and gets a device of its own


def test_api_clients_are_known_by_user_agent_and_network(app, client, verified_user, outbox):
    email, password = verified_user
    body = {"email": email, "password": password}
    client.post("/api/auth/login/", json=body, headers={"User-Agent": "MyApp/1.0"})
    client.post("/api/auth/login/", json=body, headers={"User-Agent": "MyApp/1.0"})
    assert notices(outbox) == []
    client.post("/api/auth/login/", json=body, headers={"User-Agent": "OtherApp/2.0"})
    assert len(notices(outbox)) == 1


def test_the_activity_page_shows_what_happened(app, verified_user):
    email, password = verified_user
    jane = browser(app)
    login(jane, email, password, )
    login(browser(app), email, "a wrong password")
    page = text(jane.get("/account/activity"))
    assert page.index("Failed sign-in") < page.index("Signed in")
    assert "Firefox on Linux" in page and "127.0.0.1" in page
    assert "Address verified" in page and "Account created" in page
    assert jane.get("/account/activity?page=abc").status_code == 200
    assert "Nothing here yet." in text(jane.get("/account/activity?page=99"))
    assert browser(app).get("/account/activity").status_code == 302


def test_staff_see_and_end_a_users_sessions_audited(app, verified_user):
    email, password = verified_user
    jane = browser(app)
    login(jane, email, password)
    staff = make_user(app, "boss@example.com", staff=True)
    boss = app.test_client()
    log_in_browser(boss, staff)
    page = text(boss.get("/admin/users/1"))
    assert "Firefox on Linux" in page and "/admin/users/1/activity" in page
    [session_id] = re.findall(r"/admin/users/1/sessions/([0-9a-f]{32})/end", page)
    response = submit(boss, f"/admin/users/1/sessions/{session_id}/end", page="/admin/users/1")
    assert response.status_code == 302
    assert jane.get("/account").status_code == 302
    activity = text(boss.get("/admin/users/1/activity"))
    assert "authz_admin" in activity and "yes" in activity  # by staff
    mine = text(jane.get("/login"))
    assert "Log in" in mine
    login(jane, email, password)
    assert "Changed by staff" in text(jane.get("/account/activity"))


def test_every_event_of_the_activity_page_has_a_name_a_person_reads():
    """The page showed second-factor, address and deletion events by their audit names
    (``mfa_totp_added``): each event a user is shown is named in words."""
    assert [event for event in SECURITY_EVENTS if event not in EVENT_LABELS] == []
    assert all(" " in label and "_" not in label for label in EVENT_LABELS.values())
