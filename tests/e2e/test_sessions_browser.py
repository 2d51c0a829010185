"""Sessions in Chromium, against gunicorn with a real SMTP server: two browsers sign in,
the second is announced by email (exactly once), the first ends the second from
/account/sessions and the second lands on the login page at its next click; a copied
session cookie dies with logout. Screenshots of /account/sessions and /account/activity
at 1280 and 360 px go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.e2e import servers
from tests.e2e.servers import AppServer, SmtpServer
from tests.e2e.test_browser_pages import log_in, log_out, make_verified_user, shoot

pytestmark = pytest.mark.e2e

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1")


@pytest.fixture(scope="module")
def server(tmp_path_factory, smtp) -> Iterator[AppServer]:
    with servers.mailing_site(tmp_path_factory.mktemp("sessions-e2e"), smtp) as app:
        yield app


@pytest.fixture
def contexts(browser: Browser, server: AppServer) -> Iterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []

    def new(agent: str) -> BrowserContext:
        context = browser.new_context(base_url=server.url, user_agent=agent,
                                      viewport={"width": 1280, "height": 900})
        opened.append(context)
        return context

    yield new  # type: ignore[misc]
    for context in opened:
        context.close()


def notices(smtp: SmtpServer, to: str) -> list:
    return [m for m in smtp.messages(to) if m.message["Subject"].startswith("New sign-in")]


def test_two_browsers_one_notice_end_the_other_from_the_list(contexts, server, smtp):
    email = "rosa.sessions@example.com"
    make_verified_user(server, smtp, email)
    laptop, phone = contexts(FIREFOX), contexts(SAFARI_IPHONE)
    first, second = laptop.new_page(), phone.new_page()
    log_in(first, email)  # the first sign-in after registering: no notice
    log_in(second, email)  # another browser: one notice
    [notice] = smtp.wait_for(email, count=2)[1:]
    assert notice.message["Subject"] == "New sign-in to your Accounts account"
    assert "Device: Mobile Safari on iOS" in notice.text
    assert f"{server.url}/account/sessions" in notice.text or "/account/sessions" in notice.text
    log_out(first)
    log_in(first, email)  # the laptop again (its device cookie): no second notice

    first.goto("/account/sessions")
    rows = first.locator("li.session-item")
    expect(rows).to_have_count(2)
    this = first.locator("li.session-item", has_text="This device")
    expect(this).to_contain_text("Firefox on Linux")
    shoot(first, "account-sessions")
    other = first.locator("li.session-item", has_text="Mobile Safari on iOS")
    other.get_by_role("button", name=re.compile("^End")).click()
    expect(first.locator(".flash-success")).to_have_text("That session has ended.")
    expect(first.locator("li.session-item")).to_have_count(1)

    second.get_by_role("link", name="Your account").click()  # its next click
    expect(second).to_have_url(re.compile(r"/login\?next="))
    expect(second.get_by_role("button", name="Log in")).to_be_visible()

    first.goto("/account/activity")
    expect(first.locator("li.activity-item").first).to_contain_text("A session was ended")
    new_device = first.locator("li.activity-item", has_text="Signed in from a new device")
    expect(new_device).to_have_count(1)
    shoot(first, "account-activity")
    assert len(notices(smtp, email)) == 1


def test_a_copied_session_cookie_dies_with_logout(contexts, server, smtp):
    email = "ines.cookies@example.com"
    make_verified_user(server, smtp, email)
    owner, thief = contexts(FIREFOX), contexts(FIREFOX)
    page = owner.new_page()
    log_in(page, email)
    [cookie] = [c for c in owner.cookies() if c["name"] == "session"]
    thief.add_cookies([cookie])
    stolen = thief.new_page()
    stolen.goto("/account")
    expect(stolen).to_have_url(re.compile(r"/account$"))  # the copy works while it lives
    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login$"))
    stolen.goto("/account")
    expect(stolen).to_have_url(re.compile(r"/login\?next="))
