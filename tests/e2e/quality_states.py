"""The account states the second generation's pages need, for tests/e2e/test_page_quality.py,
made as a person or a client would make them: through the JSON API and in the browser (a
virtual authenticator for the passkey), never by writing to the database.

- ``customer_state``: the long-named customer signed in, with an authenticator app set-up
  started (its QR code page) but nothing on.
- ``factors_user``: an account with an authenticator app, a passkey and 10 recovery codes,
  signed in from three apps (one with a long, in-app browser's user agent) and a browser,
  a phone number waiting for its code; its signed-in browser state.
- ``password_step_state``: the same account's password accepted in a new browser, which
  now stands at /login/mfa.
- ``undo_link`` / ``cancel_link``: live links from the notices of a confirmed email change
  and of a deletion.
- ``verify_link`` / ``reset_link``: live links of a sign-up and of a password reset, and
  ``answered_with``: the first generation's forms sent with mistakes (their error states).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

import pyotp
import requests
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Response, expect

from tests.e2e.servers import AppServer, SmtpServer
from tests.e2e.test_browser_pages import code_in, email_text, link_in, make_verified_user

PASSWORD = "correct horse battery staple"
FACTORS_EMAIL = "ada.factors@example.com"
AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    # An in-app browser: one of the longest user agents there are, with few spaces.
    "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36 "
    "[FB_IAB/FB4A;FBAV/446.0.0.33.111;IABMV/1;FBBV/570402301;FBDM/{density=3.0,width=1080,"
    "height=2340};FBLC/en_GB;FBRV/0;FBCR/Vodafone;FBMF/samsung;FBBD/samsung;FBPN/"
    "com.facebook.katana;FBDV/SM-S918B;FBSV/14;FBOP/1;FBCA/arm64-v8a:;]",
)


def api_login(app: AppServer, email: str, agent: str = AGENTS[0]) -> dict[str, str]:
    """A fresh API sign-in (an "api" session): its Bearer header."""
    answer = requests.post(f"{app.url}/api/auth/login/", timeout=10,
                           headers={"User-Agent": agent},
                           json={"email": email, "password": PASSWORD})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['tokens']['access']}",
            "User-Agent": agent}


def browser_sign_in(context: BrowserContext, email: str) -> None:
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Email or phone number").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/(account|login/mfa)$"))
    page.close()


def customer_state(browser: Browser, url: str, email: str, path: str) -> str:
    """``email`` signed in, an authenticator app set-up started; the state saved at path."""
    context = browser.new_context(base_url=url)
    try:
        browser_sign_in(context, email)
        page = context.new_page()
        page.goto("/account/security")
        page.get_by_role("button", name="Set up an authenticator app").click()
        expect(page.locator("#totp-setup svg")).to_be_visible()
        context.storage_state(path=path)
    finally:
        context.close()
    return path


def authenticator(page: Page, credential: dict | None = None) -> tuple[CDPSession, str]:
    """A DevTools virtual authenticator for ``page``, holding ``credential`` if given."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    device = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True}})["authenticatorId"]
    if credential:
        cdp.send("WebAuthn.addCredential", {"authenticatorId": device,
                                            "credential": credential})
    return cdp, device


def add_passkey(context: BrowserContext, name: str) -> dict:
    """Enrol a passkey from /account/passkeys; the credential, to hand to another browser."""
    page = context.new_page()
    cdp, device = authenticator(page)
    page.goto("/account/passkeys")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator(".passkey-name")).to_have_text([name])
    [credential] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": device})[
        "credentials"]
    page.close()
    return credential


def factors_user(browser: Browser, app: AppServer, url: str, smtp: SmtpServer,
                 path: str) -> dict:
    """The account with every factor, sessions and a pending phone number (see above)."""
    make_verified_user(app, smtp, FACTORS_EMAIL)
    auth = [api_login(app, FACTORS_EMAIL, agent) for agent in AGENTS][-1]
    requests.post(f"{app.url}/api/auth/phone-change/", headers=auth, timeout=10,
                  json={"new_phone": "+14155550199"}).raise_for_status()
    context = browser.new_context(base_url=url)
    try:
        browser_sign_in(context, FACTORS_EMAIL)
        credential = add_passkey(context, "Ada's phone, the work one with the long name")
        api = f"{app.url}/api/auth/mfa/totp"
        answer = requests.post(f"{api}/setup/", headers=auth, timeout=10)
        answer.raise_for_status()
        requests.post(f"{api}/confirm/", headers=auth, timeout=10, json={
            "code": pyotp.TOTP(answer.json()["secret"]).now()}).raise_for_status()
        context.storage_state(path=path)
    finally:
        context.close()
    me = requests.get(f"{app.url}/api/auth/me/", headers=auth, timeout=10).json()
    return {"state": path, "id": me["id"], "credential": credential}


def password_step_state(browser: Browser, url: str, path: str) -> str:
    """A new browser where the factors user's password was right: /login/mfa is next."""
    context = browser.new_context(base_url=url)
    try:
        browser_sign_in(context, FACTORS_EMAIL)
        context.storage_state(path=path)
    finally:
        context.close()
    return path


def undo_link(app: AppServer, smtp: SmtpServer) -> str:
    """The undo link the previous address gets once a change of email is confirmed."""
    old, new = "mover.quality@example.com", "mover.quality.new@example.com"
    make_verified_user(app, smtp, old)
    auth = api_login(app, old)
    requests.post(f"{app.url}/api/auth/email-change/", headers=auth, timeout=10,
                  json={"new_email": new}).raise_for_status()
    requests.post(f"{app.url}/api/auth/email-change/confirm/", headers=auth, timeout=10,
                  json={"code": code_in(email_text(smtp, new))}).raise_for_status()
    return link_in(email_text(smtp, old, 3), "/account/undo/")


def cancel_link(app: AppServer, smtp: SmtpServer) -> str:
    """The cancel link of the email a deletion sends."""
    email = "leaver.quality@example.com"
    make_verified_user(app, smtp, email)
    requests.delete(f"{app.url}/api/auth/me/", headers=api_login(app, email),
                    timeout=10).raise_for_status()
    return link_in(email_text(smtp, email, 2), "/account/delete/cancel/")


def verify_link(app: AppServer, smtp: SmtpServer) -> str:
    """The link in the email of a new sign-up (opening it spends nothing)."""
    email = "joiner.quality@example.com"
    requests.post(f"{app.url}/api/auth/register/", timeout=10, json={
        "email": email, "password": PASSWORD}).raise_for_status()
    return link_in(email_text(smtp, email), "/verify/")


def reset_link(app: AppServer, smtp: SmtpServer) -> str:
    """The link in a password reset's email (opening it spends nothing)."""
    email = "forgetful.quality@example.com"
    make_verified_user(app, smtp, email)
    requests.post(f"{app.url}/api/auth/password-reset/", timeout=10,
                  json={"email": email}).raise_for_status()
    return link_in(email_text(smtp, email, 2), "/reset/")


def answered_with(fields: dict[str, str], button: str) -> Callable[[Page], int]:
    """Fill ``fields`` (label: value; the first box of that label) and press ``button``:
    the status of the form's answer, once its errors show (htmx swaps them in place)."""

    def send(page: Page) -> int:
        for label, value in fields.items():
            page.get_by_label(label, exact=True).first.fill(value)
        with page.expect_response(lambda r: posted_here(page, r)) as answer:
            page.get_by_role("button", name=button, exact=True).click()
        page.locator("[aria-invalid=true], .form-errors").first.wait_for()
        settled(page)
        return answer.value.status

    return send


def sent_expired(page: Page) -> int:
    """The login form sent after its session (and so its CSRF token) is gone: the status,
    once the page says what happened."""
    page.context.clear_cookies()
    page.get_by_label("Email or phone number").fill("someone@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    with page.expect_response(lambda r: posted_here(page, r)) as answer:
        page.get_by_role("button", name="Log in").click()
    expect(page.locator("#alerts [role=alert]")).to_contain_text("That request did not work")
    return answer.value.status


def posted_here(page: Page, response: Response) -> bool:
    """The answer to this page's own form (not, e.g., the passkey options the login page
    fetches by POST as it loads)."""
    return response.request.method == "POST" and urlsplit(response.url).path == urlsplit(
        page.url).path


def settled(page: Page) -> None:
    """htmx done: for a moment after a swap the new form keeps the old one's classes
    (htmx-request dims its button), which axe would measure."""
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
