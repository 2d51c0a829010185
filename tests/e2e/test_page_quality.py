"""Every customer page and every staff page, in Chromium at 360 px and 1280 px: nothing
sticks out sideways, nothing is logged as an error (a CSP violation included), and axe-core
finds no serious or critical accessibility problem. Full-page screenshots of each go to
test-artifacts/screenshots/quality-*.png for a person to look at.

axe-core comes from npm (``npm pack axe-core@4``) into .cache/axe-core/ (git-ignored) the
first time; it is added to each page through the DevTools protocol (an init script), so the
page's own CSP stays as strict as in production.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from string import Formatter
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from tests.e2e import quality_states as states
from tests.e2e import servers
from tests.e2e.servers import ROOT
from tests.e2e.test_browser_pages import email_text, link_in

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
SHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / ".cache" / "axe-core" / "axe.min.js"
WIDTHS = ((360, 780), (1280, 900))
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
# A long name and address, to find what overflows.
LONG_EMAIL = "rosalind.elsie.franklin-and-a-very-long-mailbox-name@subdomain.example.com"


def axe_script() -> Path:
    """axe.min.js from the npm registry, fetched once into .cache/ (not in git)."""
    if AXE.exists():
        return AXE
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is missing: apt-get install -y npm (.ci/test does it)")
    AXE.parent.mkdir(parents=True, exist_ok=True)
    packed = subprocess.run([npm, "pack", "axe-core@4", "--silent", "--pack-destination",
                             str(AXE.parent)], capture_output=True, text=True, timeout=300,
                            check=True).stdout.strip().splitlines()[-1]
    tarball = AXE.parent / packed
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None
        AXE.write_bytes(member.read())
    tarball.unlink()
    return AXE


@pytest.fixture(scope="module")
def site(tmp_path_factory, smtp) -> Iterator[dict]:
    """A served app with a staff member, a customer with a long name and address, a
    failed login, an invitation and a few messages: enough for every page to have rows.

    It answers at http://localhost (WebAuthn refuses IP addresses, and one account adds a
    passkey), and a sign-in counts as recent for an hour: the saved browser states are
    signed in once for the whole module, which takes longer than the default 5 minutes."""
    port = servers.free_port()
    url = f"http://localhost:{port}"
    with servers.mailing_site(tmp_path_factory.mktemp("quality"), smtp, port=port,
                              APP_BASE_URL=url, REAUTH_MAX_AGE=3600) as app:
        app.flask("users", "create-admin", "boss@example.com", "--password", PASSWORD)
        api = requests.Session()
        api.headers["User-Agent"] = FIREFOX
        api.post(f"{app.url}/api/auth/register/", timeout=10, json={
            "email": LONG_EMAIL, "password": PASSWORD, "phone": "+14155550123",
            "first_name": "Rosalind Elsie", "last_name": "Franklin-Watson-Crick-Wilkins"})
        code = re.search(r"\b(\d{6})\b", smtp.wait_for(LONG_EMAIL)[0].text)
        assert code
        api.post(f"{app.url}/api/auth/email-verify/", timeout=10,
                 json={"email": LONG_EMAIL, "code": code.group(1)}).raise_for_status()
        api.post(f"{app.url}/api/auth/login/", timeout=10,
                 json={"email": LONG_EMAIL, "password": PASSWORD}).raise_for_status()
        api.post(f"{app.url}/api/auth/login/", timeout=10,
                 json={"email": LONG_EMAIL, "password": "not the password"})
        app.flask("users", "invite", "someone.invited@example.com")
        user_id = api.post(f"{app.url}/api/auth/login/", timeout=10, json={
            "email": LONG_EMAIL, "password": PASSWORD}).json()["user"]["id"]
        yield {"app": app, "url": url, "user_id": user_id}


@pytest.fixture(scope="module")
def staff_state(browser: Browser, site: dict, tmp_path_factory) -> str:
    """A signed-in staff browser session, saved once for every staff page."""
    context = browser.new_context(base_url=site["url"])
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Email or phone number").fill("boss@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/account$"))
    path = str(tmp_path_factory.mktemp("state") / "staff.json")
    context.storage_state(path=path)
    context.close()
    return path


# The second generation's account states (tests/e2e/quality_states.py), made once and only
# when a page asks for them.
@pytest.fixture(scope="module")
def customer_state(browser: Browser, site: dict, tmp_path_factory) -> str:
    return states.customer_state(browser, site["url"], LONG_EMAIL,
                                 str(tmp_path_factory.mktemp("state") / "customer.json"))


@pytest.fixture(scope="module")
def factors(browser: Browser, site: dict, smtp, tmp_path_factory) -> dict:
    return states.factors_user(browser, site["app"], site["url"], smtp,
                               str(tmp_path_factory.mktemp("state") / "factors.json"))


@pytest.fixture(scope="module")
def factors_state(factors: dict) -> str:
    return factors["state"]


@pytest.fixture(scope="module")
def factors_id(factors: dict) -> int:
    return factors["id"]


@pytest.fixture(scope="module")
def password_step_state(browser: Browser, site: dict, factors: dict, tmp_path_factory) -> str:
    return states.password_step_state(browser, site["url"],
                                      str(tmp_path_factory.mktemp("state") / "step.json"))


def link_path(make: Callable[[servers.AppServer, servers.SmtpServer], str]) -> Any:
    """A module fixture: the path of the live link that ``make`` gets from an email."""

    @pytest.fixture(scope="module")
    def path(site: dict, smtp: servers.SmtpServer) -> str:
        return urlsplit(make(site["app"], smtp)).path

    return path


undo_path = link_path(states.undo_link)
cancel_path = link_path(states.cancel_link)
verify_link_path = link_path(states.verify_link)
reset_link_path = link_path(states.reset_link)
# The invitation the site made for someone.invited@example.com (not accepted).
invite_path = link_path(lambda _app, smtp: link_in(
    email_text(smtp, "someone.invited@example.com"), "/invite/"))


CUSTOMER_PAGES = [
    ("landing", "/", 200), ("signup", "/signup", 200), ("login", "/login", 200),
    ("verify", "/verify", 200), ("reset", "/reset", 200), ("reset-code", "/reset/code", 200),
    ("reset-link-dead", "/reset/not-a-real-token", 422),
    ("verify-link-dead", "/verify/not-a-real-token", 422),
    ("invite-dead", "/invite/not-a-real-token", 400), ("not-found", "/no-such-page", 404),
    ("logout", "/logout", 200),
]
# The first generation's forms in their error states, and its live links' pages: (name,
# path, status, what to do on the page first; its answer's status is the one checked).
NOBODY = "nobody.quality@example.com"
FORM_PAGES = [
    ("signup-errors", "/signup", 422, states.answered_with({
        "Email address": "not an address", "Phone number": "12", "Password": "short"},
        "Create account")),
    ("login-error", "/login", 422, states.answered_with({
        "Email or phone number": NOBODY, "Password": "not the password"}, "Log in")),
    ("login-expired-form", "/login", 400, states.sent_expired),
    ("verify-error", "/verify", 422, states.answered_with({
        "Email or phone number": NOBODY, "6-digit code": "000000"}, "Verify")),
    ("reset-error", "/reset", 422, states.answered_with({}, "Send me a code")),
    ("reset-code-error", "/reset/code", 422, states.answered_with({
        "Email or phone number": NOBODY, "6-digit code": "000000", "New password": PASSWORD,
        "New password again": PASSWORD}, "Set new password")),
    ("verify-link", "{verify_link_path}", 200, None),
    ("reset-link", "{reset_link_path}", 200, None),
    ("reset-link-error", "{reset_link_path}", 422, states.answered_with({
        "New password": "short", "New password again": "short"}, "Set new password")),
    ("invite", "{invite_path}", 200, None),
    ("invite-errors", "{invite_path}", 422, states.answered_with({
        "Choose a password": "short", "Repeat the password": "other"}, "Create my account")),
]
STAFF_PAGES = [
    ("account", "/account", 200), ("account-export", "/account/export", 200),
    ("admin-dashboard", "/admin/", 200),
    ("admin-users", "/admin/users", 200), ("admin-search", "/admin/users?q=rosalind", 200),
    ("admin-user", "/admin/users/{user_id}", 200),
    ("admin-confirm", "/admin/users/{user_id}/deactivate", 200),
    ("admin-invitations", "/admin/invitations", 200), ("admin-audit", "/admin/audit", 200),
    ("admin-queue", "/admin/queue?status=sent", 200),
    # A user with an authenticator app, a passkey, recovery codes and four sessions.
    ("admin-user-factors", "/admin/users/{factors_id}", 200),
    ("admin-user-activity", "/admin/users/{factors_id}/activity", 200),
]


def answer_of(page: Page, button: str, heading: str) -> int:
    """Press ``button``; the status of the page it leads to, once ``heading`` shows."""
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=button).click()
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    response = navigation.value
    assert response is not None
    return response.status


def make_new_codes(page: Page) -> int:
    return answer_of(page, "Yes, make new codes", "Save your recovery codes")


# The second generation's pages: (name, path, status, whose browser state, what to press
# first: the page that answers it is the one checked, with its status).
ACCOUNT_PAGES = [
    ("security-off", "/account/security", 200, "customer_state", None),
    ("security-setup", "/account/security/totp", 200, "customer_state", None),
    ("security-on", "/account/security", 200, "factors_state", None),
    ("passkeys", "/account/passkeys", 200, "factors_state", None),
    ("security-confirm-remove", "/account/security/remove", 200, "factors_state", None),
    ("security-confirm-codes", "/account/security/recovery-codes", 200, "factors_state",
     None),
    ("security-codes", "/account/security/recovery-codes", 200, "factors_state",
     make_new_codes),
    ("login-mfa", "/login/mfa", 200, "password_step_state", None),
    ("login-mfa-recovery", "/login/mfa?with=recovery", 200, "password_step_state", None),
    ("reauthenticate", "/reauthenticate?next=/account/email", 200, "customer_state", None),
    ("reauthenticate-factors", "/reauthenticate?next=/account/security", 200,
     "factors_state", None),
    ("sessions", "/account/sessions", 200, "factors_state", None),
    ("activity", "/account/activity", 200, "factors_state", None),
    ("email", "/account/email", 200, "customer_state", None),
    ("email-link-dead", "/account/email/confirm/not-a-real-token", 422, "customer_state",
     None),
    ("phone", "/account/phone", 200, "customer_state", None),
    ("phone-pending", "/account/phone", 200, "factors_state", None),
    ("undo", "{undo_path}", 200, None, None),
    ("undo-dead", "/account/undo/not-a-real-token", 422, None, None),  # said when opened
    ("delete", "/account/delete", 200, "customer_state", None),
    ("delete-cancel", "{cancel_path}", 200, None, None),
    ("delete-cancel-dead", "/account/delete/cancel/not-a-real-token", 422, None, None),
]


def check_page(browser: Browser, site: dict, name: str, path: str, status: int,
               storage_state: str | None = None,
               then: Callable[[Page], int] | None = None) -> None:
    problems: list[str] = []
    for width, height in WIDTHS:
        context = browser.new_context(base_url=site["url"], storage_state=storage_state,
                                      viewport={"width": width, "height": height})
        context.add_init_script(path=str(axe_script()))
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m, errors=errors: errors.append(m.text)
                if m.type == "error" else None)
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        try:
            response = page.goto(path)
            assert response is not None, name
            answered = then(page) if then else response.status
            assert answered == status, (name, answered, page.url)
            # Not a page it was sent on to (a sign-in, a recent sign-in), but this one.
            assert urlsplit(page.url).path == urlsplit(path).path, (name, page.url)
            page.wait_for_load_state("load")
            problems += [f"{name} at {width}px: {p}" for p in page_problems(page, width)]
            if status >= 400:  # the answer's status is logged as a failed load (by htmx too)
                errors = [e for e in errors if "Failed to load resource" not in e
                          and "Response Status Error Code" not in e]
            problems += [f"{name} at {width}px logged: {e}" for e in errors]
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"quality-{name}-{width}.png"), full_page=True,
                            caret="initial")  # hiding the caret injects a style: CSP
        finally:
            context.close()
    assert not problems, "\n".join(problems)


def page_problems(page: Page, width: int) -> list[str]:
    found = []
    scroll_width, inner = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
    if scroll_width > inner:
        found.append(f"{scroll_width} px wide in a {inner} px window")
    styled = page.evaluate("[...document.querySelectorAll('[style]')].map(e => e.outerHTML"
                           ".slice(0, 80))")
    found += [f"inline style (the CSP forbids it): {element}" for element in styled]
    violations = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return result.violations
          .filter(v => v.impact === "serious" || v.impact === "critical")
          .map(v => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.slice(0, 3)
            .map(n => n.target.join(" ")).join(", ")}`);
    }""")
    return found + [f"axe {v}" for v in violations]


def filled(request: pytest.FixtureRequest, site: dict, path: str) -> str:
    """``path`` with its {placeholders}: the site's values, else the fixture of that name
    (so a state is only made when a page needs it)."""
    names = [field for _, field, _, _ in Formatter().parse(path) if field]
    return path.format(**{n: site[n] if n in site else request.getfixturevalue(n)
                          for n in names})


@pytest.mark.parametrize(("name", "path", "status"), CUSTOMER_PAGES,
                         ids=[p[0] for p in CUSTOMER_PAGES])
def test_customer_page(browser: Browser, site: dict, name: str, path: str, status: int):
    check_page(browser, site, name, path, status)


@pytest.mark.parametrize(("name", "path", "status", "then"), FORM_PAGES,
                         ids=[p[0] for p in FORM_PAGES])
def test_form_page(request: pytest.FixtureRequest, browser: Browser, site: dict, name: str,
                   path: str, status: int, then: Callable[[Page], int] | None):
    check_page(browser, site, name, filled(request, site, path), status, then=then)


@pytest.mark.parametrize(("name", "path", "status"), STAFF_PAGES,
                         ids=[p[0] for p in STAFF_PAGES])
def test_staff_page(request: pytest.FixtureRequest, browser: Browser, site: dict,
                    staff_state: str, name: str, path: str, status: int):
    check_page(browser, site, name, filled(request, site, path), status,
               storage_state=staff_state)


@pytest.mark.parametrize(("name", "path", "status", "who", "then"), ACCOUNT_PAGES,
                         ids=[p[0] for p in ACCOUNT_PAGES])
def test_account_page(request: pytest.FixtureRequest, browser: Browser, site: dict,
                      name: str, path: str, status: int, who: str | None,
                      then: Callable[[Page], int] | None):
    state = request.getfixturevalue(who) if who else None
    check_page(browser, site, name, filled(request, site, path), status,
               storage_state=state, then=then)


def test_the_audit_log_names_the_device_and_keeps_the_agent_one_click_away(
        browser: Browser, site: dict, staff_state: str):
    context = browser.new_context(base_url=site["url"], storage_state=staff_state,
                                  viewport={"width": 360, "height": 780})
    page = context.new_page()
    try:
        page.goto("/admin/audit?kind=authn_login_success")
        cell = page.locator("td[data-label=Device] details").filter(
            has_text="Firefox on Linux").first
        device, full = cell.locator("summary"), cell.locator(".long-full")
        device.wait_for()
        assert device.inner_text() == "Firefox on Linux" and not full.is_visible()
        device.focus()
        page.keyboard.press("Enter")  # a keyboard opens it, as a click does
        assert full.is_visible() and "rv:128.0" in full.inner_text()
        current = page.locator(".staff-nav a[aria-current=page]")  # one, this page's
        assert current.get_attribute("href") == "/admin/audit"
        assert current.inner_text() == "Audit"  # the short label on a phone
        page.keyboard.press("Enter")  # and closes it again
        page.set_viewport_size({"width": 1280, "height": 900})
        # On a desktop the table fits its card, and a row is one line, not a tower.
        fits = page.evaluate("""() => { const box = document.querySelector('.table-card');
            return box.scrollWidth <= box.clientWidth; }""")
        tallest = page.evaluate("""() => Math.max(...[...document.querySelectorAll(
            '.admin-table tbody tr')].map(r => r.getBoundingClientRect().height))""")
        assert fits and tallest < 60, (fits, tallest)
    finally:
        context.close()


def test_htmx_swaps_leave_no_inline_style_and_log_no_error(browser: Browser, site: dict,
                                                           staff_state: str):
    """htmx is configured (base.html's htmx-config meta) never to write a style: after a
    form answered in place and a filtered list, no element has one and nothing is logged."""
    context = browser.new_context(base_url=site["url"], viewport={"width": 360,
                                                                      "height": 780})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto("/signup")
        page.get_by_label("Email").fill("not an address")
        page.get_by_role("button", name="Create account").click()
        page.locator("[aria-invalid=true]").first.wait_for()
        assert page.evaluate("document.querySelectorAll('[style]').length") == 0
        assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    finally:
        context.close()
    staff = browser.new_context(base_url=site["url"], storage_state=staff_state)
    page = staff.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto("/admin/users")
        page.get_by_label("Search").fill("rosalind")
        expect(page.locator("#results tbody tr")).to_have_count(1)  # swapped in place
        assert page.evaluate("document.querySelectorAll('[style]').length") == 0
    finally:
        staff.close()
    assert [e for e in errors if "Failed to load resource" not in e] == []


def test_a_nested_stack_keeps_its_gap_and_a_staff_cell_keeps_its_text(
        browser: Browser, site: dict, factors_state: str, staff_state: str, factors_id: int):
    """At 360 px the pending phone change's heading sat on the line above it (a stack in a
    stack lost its gap), and a long audit kind (``address_change_requested``) ran out of
    its row's card on the staff user page."""
    phone = {"width": 360, "height": 780}
    context = browser.new_context(base_url=site["url"], storage_state=factors_state,
                                  viewport=phone)
    try:
        page = context.new_page()
        page.goto("/account/phone")
        gap = page.evaluate("""() => document.querySelector('#pending').getBoundingClientRect()
            .top - document.querySelector('.lead').getBoundingClientRect().bottom""")
        assert gap >= 12, gap
    finally:
        context.close()
    staff = browser.new_context(base_url=site["url"], storage_state=staff_state, viewport=phone)
    try:
        page = staff.new_page()
        page.goto(f"/admin/users/{factors_id}")
        # A cell's code is a grid item: its text overflows its box, which itself fits.
        sticking_out = page.evaluate("""() => [...document.querySelectorAll(
            '.admin-table td code')].filter(code => code.scrollWidth > code.clientWidth)
            .map(code => code.textContent)""")
        assert sticking_out == []
    finally:
        staff.close()


def test_the_one_dont_ask_again_box_reaches_the_passkey_form(browser: Browser, site: dict,
                                                             factors: dict):
    """With a passkey and an app on, /login/mfa shows the box once (it belongs to the code
    form); checked, the passkey's answer carries it too: this browser is trusted."""
    context = browser.new_context(base_url=site["url"])
    try:
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Email or phone number").fill(states.FACTORS_EMAIL)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/login/mfa$"))
        # The passkey only now: on /login the autofill would have signed in with it.
        states.authenticator(page, factors["credential"])
        box = page.get_by_label("Don't ask again on this browser for 30 days")
        expect(box).to_have_count(1)
        box.check()
        page.get_by_role("button", name="Use your passkey").click()
        page.wait_for_url(re.compile(r"/account$"))
        assert "trusted_browser" in [cookie["name"] for cookie in context.cookies()]
    finally:
        context.close()


def test_on_a_phone_each_fact_of_a_session_and_an_event_has_its_own_line(
        browser: Browser, site: dict, factors_state: str):
    """At 360 px "IP … · signed in … · last seen …" broke mid-fact, a line starting with
    its separator; on a phone each fact now has a line, on a desktop they share one."""
    for width, lines in ((360, 3), (1280, 1)):
        context = browser.new_context(base_url=site["url"], storage_state=factors_state,
                                      viewport={"width": width, "height": 900})
        try:
            page = context.new_page()
            for path, meta in (("/account/sessions", ".session-meta"),
                               ("/account/activity", ".activity-meta")):
                page.goto(path)
                tops = page.evaluate(f"""() => [...document.querySelector('{meta}')
                    .querySelectorAll('.fact')].map(f => Math.round(
                      f.getBoundingClientRect().top))""")
                assert len(tops) == 3 and len(set(tops)) == lines, (path, width, tops)
        finally:
            context.close()
