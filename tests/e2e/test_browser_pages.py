"""The browser pages, driven in Debian's Chromium against the app under gunicorn, with a
real SMTP server and an HTTP SMS gateway. Screenshots of every page at 1280 px and 360 px
go to test-artifacts/screenshots/ for a person to look at."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e import servers
from tests.e2e.servers import ROOT, AppServer, HttpSink, SmtpServer, watched_page

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
SHOTS = ROOT / "test-artifacts" / "screenshots"
WIDTHS = {"desktop": (1280, 900), "phone": (360, 780)}


@pytest.fixture(scope="module")
def sms() -> Iterator[HttpSink]:
    with HttpSink(name="sms-gateway") as sink:
        yield sink


@pytest.fixture(scope="module")
def server(tmp_path_factory, smtp, sms) -> Iterator[AppServer]:
    with servers.mailing_site(tmp_path_factory.mktemp("web-e2e"), smtp, SMS_BACKEND="http",
                              SMS_HTTP_URL=f"{sms.url}/messages", RESEND_COOLDOWN=3) as app:
        yield app


def email_text(smtp: SmtpServer, to: str, count: int = 1) -> str:
    """The text of the ``count``-th email to ``to`` (waits for it)."""
    return smtp.wait_for(to, count)[count - 1].text


def sms_text(sms: HttpSink, to: str, count: int = 1) -> str:
    return sms.wait_for(lambda hit: hit.body["to"] == to, count)[count - 1].body["body"]


@pytest.fixture
def context(browser: Browser, server: AppServer) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=server.url, viewport=dict(zip(
        ("width", "height"), WIDTHS["desktop"], strict=True)))
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any CSP violation or script error."""
    yield from watched_page(context)


def shoot(page: Page, name: str) -> None:
    """Full-page screenshots at both widths, then back to the desktop width."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        # caret="initial": hiding the caret would inject a style element, which the CSP blocks.
        page.screenshot(path=str(SHOTS / f"{name}-{label}-{width}.png"), full_page=True,
                        caret="initial")
        if label == "phone":  # nothing may stick out sideways on a 360 px phone
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, f"{name} is {overflow} px wide at {width} px"
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS["desktop"], strict=True)))


def link_in(text: str, path: str) -> str:
    match = re.search(rf"https?://\S+{re.escape(path)}\S+", text)
    assert match, text
    return match.group(0)


def code_in(text: str) -> str:
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    return match.group(1)


def log_in(page: Page, identifier: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email or phone number").fill(identifier)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/account$"))


def log_out(page: Page) -> None:
    """From any signed-in page: the header's button, then the login page's link shows."""
    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()


def make_verified_user(server: AppServer, smtp: SmtpServer, email: str) -> None:
    """Quickly, through the JSON API: the browser parts are tested elsewhere."""
    requests.post(f"{server.url}/api/auth/register/", json={
        "email": email, "password": PASSWORD, "first_name": "Rosa"}, timeout=10)
    code = code_in(email_text(smtp, email))
    requests.post(f"{server.url}/api/auth/email-verify/", json={"email": email, "code": code},
                  timeout=10).raise_for_status()


def test_sign_up_by_email_open_the_link_log_in_and_out(page: Page, smtp: SmtpServer):
    page.goto("/")
    shoot(page, "landing")
    page.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/signup$"))
    shoot(page, "signup")

    page.get_by_label("First name").fill("Jane")
    page.get_by_label("Email address").fill("jane@example.com")
    password = page.get_by_label("Password", exact=True)
    password.fill("short")
    expect(page.locator("#password-strength")).to_contain_text("Too short")
    page.get_by_role("button", name="Create account").click()
    # htmx: the error appears in place, on the same page, and focus goes to the field.
    expect(page.locator("#password-error")).to_contain_text("Use at least 8 characters.")
    expect(page).to_have_url(re.compile(r"/signup$"))
    expect(password).to_be_focused()
    expect(password).to_have_attribute("aria-describedby", "password-help password-error")
    shoot(page, "signup-errors")

    password.fill(PASSWORD)
    expect(page.locator("#password-strength")).to_contain_text(re.compile("Good|Strong"))
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/verify$"))
    expect(page.get_by_role("status").first).to_contain_text("If that address can be used")
    shoot(page, "verify")

    message = smtp.wait_for("jane@example.com")[0]
    assert "Verify my email" in message.html  # the HTML part shares the look
    page.goto(link_in(message.text, "/verify/"))
    expect(page.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    shoot(page, "verify-link")
    page.get_by_role("button", name="Confirm my email address").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_text("Your account is verified")).to_be_visible()
    shoot(page, "login")

    log_in(page, "jane@example.com")
    expect(page.get_by_role("heading", name="Hello, Jane")).to_be_visible()
    expect(page.get_by_text("Verified", exact=True)).to_be_visible()
    shoot(page, "account")

    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Faccount$"))


def test_a_double_click_signs_up_once(page: Page, smtp: SmtpServer):
    # htmx queued the second click's request and sent it once the first was answered: a
    # second registration of the same address, whose "Finish signing up" email followed
    # the verification one, and the "we have sent a message" notice showed twice.
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto("/signup")
    page.get_by_label("Email address").fill("double.click@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").dblclick()
    expect(page).to_have_url(re.compile(r"/verify$"))
    page.wait_for_load_state("load")
    expect(page.get_by_text("If that address can be used")).to_have_count(1)
    assert len(posts) == 1, posts
    first = smtp.wait_for("double.click@example.com")[0]
    assert first.message["Subject"].startswith("Verify your email address")


def test_sign_up_by_phone_and_enter_the_sms_code(page: Page, sms: HttpSink):
    page.goto("/signup")
    page.get_by_label("Phone number").fill("+1 415 555 0199")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/verify$"))
    first = code_in(sms_text(sms, "+14155550199"))

    # The resend button waits out its cool-down (3 s here), then sends a new code in place.
    resend = page.get_by_role("button", name="Send a new code")
    expect(resend).to_be_disabled()
    expect(resend).to_be_enabled(timeout=10_000)
    resend.click()
    expect(page.locator("#resend-form")).to_contain_text("new code is on its way")
    expect(page.get_by_role("button", name="Send a new code")).to_be_disabled()
    code = code_in(sms_text(sms, "+14155550199", count=2))

    code_box = page.get_by_label("6-digit code")
    code_box.fill("000000" if first != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#code-error")).to_contain_text("wrong or no longer valid")
    expect(code_box).to_be_focused()
    shoot(page, "verify-wrong-code")
    code_box.fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    log_in(page, "+14155550199")
    expect(page.get_by_text("+14155550199")).to_be_visible()


def test_reset_a_password_through_the_emailed_link(page: Page, server: AppServer,
                                                  smtp: SmtpServer):
    make_verified_user(server, smtp, "rosa@example.com")
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").first.click()
    expect(page).to_have_url(re.compile(r"/reset$"))
    shoot(page, "reset")
    page.get_by_label("Email or phone number").fill("rosa@example.com")
    page.get_by_role("button", name="Send me a code").click()
    expect(page).to_have_url(re.compile(r"/reset/code$"))
    shoot(page, "reset-code")

    page.goto(link_in(email_text(smtp, "rosa@example.com", count=2), "/reset/"))
    shoot(page, "reset-link")
    new = "a brand new passphrase"
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("New password again").fill(new + "?")
    page.get_by_role("button", name="Set new password").click()
    expect(page.locator("#confirm_password-error")).to_contain_text("The two passwords differ.")
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("New password again").fill(new)
    page.get_by_role("button", name="Set new password").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    log_in(page, "rosa@example.com", new)


def test_every_page_works_without_javascript(browser: Browser, server: AppServer,
                                             smtp: SmtpServer):
    make_verified_user(server, smtp, "nojs@example.com")
    context = browser.new_context(base_url=server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/login")
        page.get_by_label("Email or phone number").fill("nojs@example.com")
        page.get_by_label("Password", exact=True).fill("wrong password here")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("The credentials are not valid.")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(re.compile(r"/account$"))
        page.get_by_label("Current password").fill("not it")
        page.get_by_role("button", name="Change password").click()
        expect(page.locator("#current_password-error")).to_contain_text("wrong")
        shoot(page, "account-errors")
        page.get_by_role("button", name="Log out everywhere").click()
        expect(page).to_have_url(re.compile(r"/login$"))
    finally:
        context.close()


@pytest.mark.parametrize(("path", "name"), [
    ("/logout", "logout"), ("/verify", "verify-empty"), ("/reset/code", "reset-code-empty"),
    ("/no-such-page", "error-404"), ("/reset/not-a-real-token", "reset-link-dead")])
def test_screenshots_of_the_other_pages(page: Page, path: str, name: str):
    page.goto(path)
    expect(page.locator("h1")).to_be_visible()
    shoot(page, name)
