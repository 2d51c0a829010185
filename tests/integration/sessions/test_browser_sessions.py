"""Browser sessions on the server, through the pages: a copied cookie dies with logout,
a session ended elsewhere is signed out at its next request, the list page, staff."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD
from tests.integration.sessions.conftest import CHROME_MAC, FIREFOX
from tests.integration.web.conftest import flashes, login, submit, text


def browser(app: Flask, agent: str = FIREFOX) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = agent
    return client


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_a_copied_cookie_dies_with_logout(app, verified_user):
    email, password = verified_user
    jane = browser(app)
    assert login(jane, email, password).status_code == 303
    stolen = browser(app)
    stolen.set_cookie("session", session_cookie(jane))
    assert stolen.get("/account").status_code == 200  # the copy works while the session lives
    assert submit(jane, "/logout").status_code == 303
    response = stolen.get("/account")
    assert response.status_code == 302 and response.location.startswith("/login?next=")
    assert jane.get("/account").status_code == 302


def test_ending_another_browser_from_the_list_signs_it_out_at_its_next_click(app,
                                                                            verified_user):
    email, password = verified_user
    laptop, phone = browser(app, FIREFOX), browser(app, CHROME_MAC)
    login(laptop, email, password)
    login(phone, email, password)
    page = text(laptop.get("/account/sessions"))
    assert "Firefox on Linux" in page and "Chrome on Mac OS X" in page
    assert page.count("This device") == 1
    rows = dict(re.findall(r'data-session="([0-9a-f]{32})">(.*?)</li>', page, re.S))
    assert len(rows) == 2
    [other] = [i for i, row in rows.items() if "This device" not in row]
    assert "Chrome on Mac OS X" in rows[other]
    response = submit(laptop, f"/account/sessions/{other}/end", page="/account/sessions")
    assert response.status_code == 303
    assert phone.get("/account").status_code == 302  # its next click: the login page
    assert laptop.get("/account").status_code == 200
    assert text(laptop.get("/account/sessions")).count('data-session="') == 1


def test_end_every_other_session_and_ending_ones_own_is_logging_out(app, verified_user):
    email, password = verified_user
    mine, other = browser(app), browser(app, CHROME_MAC)
    login(mine, email, password)
    login(other, email, password)
    app.test_client().post("/api/auth/login/", json={"email": email, "password": password})
    assert text(mine.get("/account/sessions")).count('data-session="') == 3
    submit(mine, "/account/sessions/end-others", page="/account/sessions")
    assert "Ended 2 other sessions." in flashes(mine)
    assert other.get("/account").status_code == 302
    page = text(mine.get("/account/sessions"))
    [own] = re.findall(r'data-session="([0-9a-f]{32})"', page)
    assert submit(mine, f"/account/sessions/{own}/end", page="/account/sessions").location \
        == "/login"
    assert mine.get("/account").status_code == 302


def test_a_foreign_or_malformed_id_on_the_page_ends_nothing(app, verified_user, register,
                                                          outbox):
    email, password = verified_user
    jane = browser(app)
    login(jane, email, password)
    register("bob@example.com")
    code = outbox.code("email", "bob@example.com")
    app.test_client().post("/api/auth/email-verify/",
                           json={"email": "bob@example.com", "code": code})
    bob = browser(app, CHROME_MAC)
    login(bob, "bob@example.com", PASSWORD)
    [bobs] = re.findall(r'data-session="([0-9a-f]{32})"', text(bob.get("/account/sessions")))
    for target in (bobs, "f" * 32, "not-an-id"):
        response = submit(jane, f"/account/sessions/{target}/end", page="/account/sessions")
        assert response.status_code == 303
    assert bob.get("/account").status_code == 200
    assert jane.get("/account").status_code == 200


def test_last_seen_is_written_at_most_once_a_minute(app, verified_user):
    from tests.fakes import FakeClock

    email, password = verified_user
    clock = FakeClock(app.extensions["ports"].clock.now())
    app.extensions["ports"].clock = clock
    jane = browser(app)
    login(jane, email, password)
    store = app.extensions["services"].sessions.store

    def last_seen():
        with app.app_context():
            [record] = store.for_user(1)
        return record.last_seen_at

    started = last_seen()
    for _ in range(3):
        clock.advance(seconds=15)
        assert jane.get("/account").status_code == 200
    assert last_seen() == started
    clock.advance(seconds=20)
    jane.get("/account")
    assert last_seen() == clock.now()


def test_a_cookie_refused_from_another_address_ends_its_session_everywhere(app, verified_user):
    """Strong protection signs out a browser whose address changed; the session's record
    ends with it, so a copy of the cookie taken on the first network (where the address
    still matches) is signed out too, and the list keeps no line for it."""
    email, password = verified_user
    jane, copy = browser(app), browser(app)
    for client in (jane, copy):
        client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert login(jane, email, password).status_code == 303
    copy.set_cookie("session", session_cookie(jane))
    assert copy.get("/account").status_code == 200
    jane.environ_base["REMOTE_ADDR"] = "203.0.113.5"  # the laptop moved to another network
    assert jane.get("/account").status_code == 302
    assert copy.get("/account").status_code == 302
    assert login(jane, email, password).status_code == 303
    page = text(jane.get("/account/sessions"))
    assert page.count('class="session-item"') == 1 and "203.0.113.5" in page

