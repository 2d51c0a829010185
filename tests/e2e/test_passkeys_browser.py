"""Passkeys end to end: Debian's Chromium with the DevTools Protocol's virtual
authenticator (CTAP2, internal, resident keys, user verification) against gunicorn at
http://localhost:PORT (WebAuthn refuses IP addresses as relying-party ids), APP_BASE_URL
to match. Enrol from the account's passkey list, log out, sign in with the passkey alone,
then use it as the second step after a password and to confirm it is you; remove it.
Screenshots of the passkey pages at 1280 px and 360 px go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e import servers
from tests.e2e.servers import AppServer, SmtpServer
from tests.e2e.test_browser_pages import PASSWORD, log_out, make_verified_user, shoot

pytestmark = pytest.mark.e2e

EMAIL = "rosa@example.com"
# The virtual authenticator answers at once, also the passkey autofill that /login starts
# (conditional mediation): it would sign in before any button is clicked. Autofill is
# reported unavailable (as in browsers without it) unless a step turns it on.
AUTOFILL_SWITCH = """
(() => {
  const PKC = window.PublicKeyCredential;
  if (!PKC || !PKC.isConditionalMediationAvailable) { return; }
  const real = PKC.isConditionalMediationAvailable.bind(PKC);
  PKC.isConditionalMediationAvailable = () =>
    localStorage.getItem("e2e-autofill") === "on" ? real() : Promise.resolve(false);
})();
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, smtp) -> Iterator[AppServer]:
    port = servers.free_port()  # WebAuthn refuses IP addresses: the site is localhost
    with servers.mailing_site(tmp_path_factory.mktemp("passkeys-e2e"), smtp, port=port,
                              APP_BASE_URL=f"http://localhost:{port}") as app:
        yield app


@pytest.fixture
def context(browser: Browser, server: AppServer) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=f"http://localhost:{server.port}",
                                  viewport={"width": 1280, "height": 900})
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page with a virtual platform authenticator; any script error fails the test."""
    page = context.new_page()
    page.add_init_script(AUTOFILL_SWITCH)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.text} on {page.url}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True}})
    page.authenticator = (cdp, authenticator["authenticatorId"])  # type: ignore[attr-defined]
    yield page
    assert not [p for p in problems if "Failed to load resource" not in p], problems


def credentials(page: Page) -> list[dict]:
    cdp, authenticator_id = page.authenticator  # type: ignore[attr-defined]
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})[
        "credentials"]


def test_enrol_then_sign_in_with_the_passkey_alone_then_as_the_second_step(
        page: Page, server: AppServer, smtp: SmtpServer):
    make_verified_user(server, smtp, EMAIL)

    # Sign in with the password, and add a passkey from the account's passkey list.
    page.goto("/login")
    page.get_by_label("Email or phone number").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    page.goto("/account/passkeys")
    expect(page.get_by_text("No passkeys yet.")).to_be_visible()
    shoot(page, "passkeys-empty")
    page.get_by_label("Name").fill("This laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("Passkey “This laptop” added")).to_be_visible()
    expect(page.locator(".passkey-name")).to_have_text(["This laptop"])
    expect(page.locator(".passkey-meta")).to_contain_text("not used yet")
    stored = credentials(page)
    assert len(stored) == 1 and stored[0]["isResidentCredential"] is True
    shoot(page, "passkeys-list")

    # Log out; sign in with the passkey alone (no identifier, no password).
    log_out(page)
    expect(page.locator("#identifier")).to_have_attribute("autocomplete", "username webauthn")
    shoot(page, "login-with-passkey")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_role("heading", name="Hello, Rosa")).to_be_visible()
    assert credentials(page)[0]["signCount"] >= 1

    # Log out; where the browser offers passkeys in the autofill, /login asks at once and
    # the passkey signs in (the virtual authenticator stands for the user's pick).
    log_out(page)
    page.evaluate("localStorage.setItem('e2e-autofill', 'on')")
    page.goto("/login")
    expect(page).to_have_url(re.compile(r"/account$"))
    page.evaluate("localStorage.removeItem('e2e-autofill')")

    # Log out; the password now leads to the second step, which the passkey passes.
    log_out(page)
    page.get_by_label("Email or phone number").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/login/mfa$"))
    expect(page.get_by_role("button", name="Use your passkey")).to_be_visible()
    shoot(page, "login-mfa-passkey")
    page.get_by_role("button", name="Use your passkey").click()
    expect(page).to_have_url(re.compile(r"/account$"))

    # Confirm it is you with the passkey, then remove it (a recent sign-in is needed).
    page.goto("/reauthenticate?next=/account/passkeys")
    expect(page.get_by_role("button", name="Confirm with a passkey")).to_be_visible()
    shoot(page, "reauthenticate-passkey")
    page.get_by_role("button", name="Confirm with a passkey").click()
    expect(page).to_have_url(re.compile(r"/account/passkeys$"))
    expect(page.get_by_text("You can make the change now")).to_be_visible()
    expect(page.locator(".passkey-meta")).to_contain_text("last used")
    page.get_by_role("button", name="Remove the passkey This laptop").click()
    expect(page.get_by_text("The passkey is removed.")).to_be_visible()
    expect(page.get_by_text("No passkeys yet.")).to_be_visible()

    # With no factor left, the password alone signs in again.
    log_out(page)
    page.get_by_label("Email or phone number").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/account$"))


WITHOUT_JSON_HELPERS = """
delete PublicKeyCredential.parseCreationOptionsFromJSON;
delete PublicKeyCredential.parseRequestOptionsFromJSON;
delete PublicKeyCredential.prototype.toJSON;
"""


def test_browsers_without_the_json_helpers_use_the_base64url_fallback(
        page: Page, server: AppServer, smtp: SmtpServer):
    page.add_init_script(WITHOUT_JSON_HELPERS)
    make_verified_user(server, smtp, "olga@example.com")
    page.goto("/login")
    assert page.evaluate("typeof PublicKeyCredential.parseRequestOptionsFromJSON") == "undefined"
    page.get_by_label("Email or phone number").fill("olga@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    page.goto("/account/passkeys")
    page.get_by_label("Name").fill("Old browser")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator(".passkey-name")).to_have_text(["Old browser"])
    log_out(page)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page).to_have_url(re.compile(r"/account$"))
