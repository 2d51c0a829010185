"""A second factor as a person sets it up, in Debian's Chromium against gunicorn: turn on
an authenticator app from /account/security with the secret the page shows (the code
computed by pyotp, as a phone would), keep the recovery codes (Copy, Download .txt), sign
out, sign in with a code, then with a recovery code. Screenshots at 360 and 1280 px of
/account/security (off, set-up, codes shown), /login/mfa and /reauthenticate."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e import servers
from tests.e2e.servers import AppServer, SmtpServer, watched_page
from tests.e2e.test_browser_pages import (
    PASSWORD,
    SHOTS,
    WIDTHS,
    log_out,
    make_verified_user,
    shoot,
)

pytestmark = pytest.mark.e2e

EMAIL = "mfa.rosa@example.com"
CODE = re.compile(r"^[a-z2-9]{5}-[a-z2-9]{5}$")


@pytest.fixture(scope="module")
def server(tmp_path_factory, smtp) -> Iterator[AppServer]:
    with servers.mailing_site(tmp_path_factory.mktemp("mfa-e2e"), smtp) as app:
        yield app


@pytest.fixture
def context(browser: Browser, server: AppServer) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=server.url, accept_downloads=True,
                                  viewport=dict(zip(("width", "height"), WIDTHS["desktop"],
                                                    strict=True)))
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any CSP violation or script error."""
    yield from watched_page(context)


def shoot_staff_page(page: Page, name: str) -> None:
    """Both widths, as ``shoot``, but no check for sideways overflow: the staff pages are
    desktop pages whose wide tables (logins, messages, audit) scroll on a phone."""
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"{name}-{label}-{width}.png"), full_page=True,
                        caret="initial")
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS["desktop"], strict=True)))


def password_step(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Email or phone number").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def set_up_the_app(page: Page) -> tuple[pyotp.TOTP, list[str]]:
    """From the account page to the recovery codes; the phone's TOTP and the codes."""
    page.get_by_role("link", name="Security").click()
    expect(page).to_have_url(re.compile(r"/account/security$"))
    expect(page.locator(".badge", has_text="Off")).to_be_visible()
    shoot(page, "security-off")
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page).to_have_url(re.compile(r"/account/security/totp$"))
    expect(page.locator("#totp-setup svg")).to_be_visible()
    shown = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", shown), shown  # grouped for typing
    secret = shown.replace(" ", "")
    phone = pyotp.TOTP(secret)
    shoot(page, "security-setup")
    code_box = page.get_by_label("6-digit code from your authenticator app")
    code_box.fill("000000")  # a wrong code: said in place (htmx), the QR code stays
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#code-error")).to_contain_text("The code is wrong")
    expect(page.locator("#totp-setup svg")).to_be_visible()
    shoot(page, "security-setup-wrong-code")
    page.get_by_label("6-digit code from your authenticator app").fill(phone.now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    codes = [c.strip() for c in page.locator(".codes code").all_inner_texts()]
    assert len(codes) == 10 and all(CODE.match(c) for c in codes), codes
    shoot(page, "security-codes")
    return phone, codes


def keep_the_codes(page: Page, codes: list[str]) -> None:
    """Copy puts them on the clipboard; Download .txt saves them as a text file."""
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("[data-codes-status]")).to_have_text("Copied. Paste them somewhere safe.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert all(code in copied for code in codes) and EMAIL in copied
    with page.expect_download() as caught:
        page.get_by_role("button", name="Download .txt").click()
    download = caught.value
    assert download.suggested_filename.endswith("recovery-codes.txt")
    saved = Path(download.path()).read_text(encoding="utf-8")
    assert [line for line in saved.splitlines() if CODE.match(line)] == codes


def test_set_up_an_authenticator_app_and_sign_in_with_a_code_then_a_recovery_code(
        page: Page, server: AppServer, smtp: SmtpServer):
    make_verified_user(server, smtp, EMAIL)
    password_step(page)  # no factor yet: straight in
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.locator("#mfa-summary")).to_contain_text("off · 0 recovery codes left")
    phone, codes = set_up_the_app(page)
    keep_the_codes(page, codes)
    page.get_by_role("link", name="I saved them").click()
    expect(page.locator(".badge", has_text="10 left")).to_be_visible()
    shoot(page, "security-on")
    log_out(page)

    password_step(page)  # a code from the app
    expect(page).to_have_url(re.compile(r"/login/mfa$"))
    shoot(page, "login-mfa")
    # The next step's code: the one that turned the app on may have been this step's.
    page.get_by_label("6-digit code from your authenticator app").fill(
        phone.at(time.time() + 30))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.locator("#mfa-summary")).to_contain_text("on · 10 recovery codes left")
    shoot(page, "account-second-factor")
    page.goto("/reauthenticate?next=/account/security")
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    shoot(page, "reauthenticate")
    log_out(page)

    password_step(page)  # a recovery code instead
    page.get_by_role("link", name="Use a recovery code instead").click()
    shoot(page, "login-mfa-recovery")
    page.get_by_label("Recovery code").fill(codes[0].upper())
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.locator("#mfa-summary")).to_contain_text("on · 9 recovery codes left")
    assert "A recovery code was used" in smtp.wait_for(EMAIL, 3)[-1].text

    page.goto("/account/security")  # new codes: asked first, then shown once
    page.get_by_role("link", name="Make new recovery codes").click()
    expect(page.get_by_role("heading", name="Make new recovery codes?")).to_be_visible()
    shoot(page, "security-confirm-new-codes")
    page.get_by_role("button", name="Yes, make new codes").click()
    fresh = [c.strip() for c in page.locator(".codes code").all_inner_texts()]
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    shoot(page, "security-new-codes")


def test_staff_turn_off_a_users_second_factor_with_a_reason(page: Page, server: AppServer,
                                                             smtp: SmtpServer):
    email = "mfa.lost.phone@example.com"
    make_verified_user(server, smtp, email)
    api = f"{server.url}/api/auth"
    login = requests.post(f"{api}/login/", json={"email": email, "password": PASSWORD},
                          timeout=10).json()
    auth = {"Authorization": f"Bearer {login['tokens']['access']}"}
    secret = requests.post(f"{api}/mfa/totp/setup/", headers=auth, timeout=10).json()["secret"]
    requests.post(f"{api}/mfa/totp/confirm/", headers=auth, timeout=10,
                  json={"code": pyotp.TOTP(secret).now()}).raise_for_status()
    server.flask("users", "create-admin", "mfa.boss@example.com", "--password", PASSWORD)
    page.goto("/login")
    page.get_by_label("Email or phone number").fill("mfa.boss@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    page.goto(f"/admin/users/{login['user']['id']}")
    expect(page.locator("dd", has_text="on (authenticator app; 10 recovery codes left)")
           ).to_be_visible()
    shoot_staff_page(page, "admin-user-second-factor")
    page.get_by_role("link", name="Turn off second factors").click()
    reason = page.get_by_label("Reason (kept in the audit log)")
    expect(reason).to_be_visible()
    shoot_staff_page(page, "admin-turn-off-second-factors")
    reason.fill("Lost phone and codes; identity checked on a video call")
    page.get_by_role("button", name="Yes, turn off second factors").click()
    expect(page.get_by_text("Second factors turned off; the user is told.")).to_be_visible()
    expect(page.locator("dd", has_text="off").first).to_be_visible()
    assert "staff turned off the second factor" in smtp.wait_for(email, 3)[-1].text
    signed_in = requests.post(f"{api}/login/", json={"email": email, "password": PASSWORD},
                              timeout=10).json()
    assert "tokens" in signed_in  # the password alone again
