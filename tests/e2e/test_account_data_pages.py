"""The email change, undo and deletion pages in Chromium, against gunicorn with a real SMTP
server. Screenshots at 1280 px and 360 px go to test-artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import test_browser_pages as pages
from tests.e2e.servers import AppServer, SmtpServer
from tests.e2e.test_browser_pages import (
    PASSWORD,
    code_in,
    email_text,
    link_in,
    log_in,
    make_verified_user,
    shoot,
)

pytestmark = pytest.mark.e2e
# The browser pages' fixtures: gunicorn with the SMTP sink (``smtp`` itself comes from
# tests/e2e/conftest.py), and a page that fails on CSP errors.
sms, server, context, page = pages.sms, pages.server, pages.context, pages.page
NEW_PASSWORD = "a completely new passphrase"


def test_change_the_email_on_its_page_then_undo_it(page: Page, server: AppServer,
                                                   smtp: SmtpServer):
    old, new = "mover@example.com", "mover.new@example.com"
    make_verified_user(server, smtp, old)
    log_in(page, old)
    shoot(page, "account-with-data")
    page.get_by_role("link", name="Change email").click()
    expect(page).to_have_url(re.compile(r"/account/email$"))
    shoot(page, "account-email")

    page.get_by_label("New email address").fill("not an address")
    page.get_by_role("button", name="Change email address").click()
    expect(page.locator(".field-errors")).to_contain_text("valid email address")
    page.get_by_label("New email address").fill(new)
    page.get_by_role("button", name="Change email address").click()
    expect(page.get_by_role("heading", name=f"Confirm {new}")).to_be_visible()
    assert "m***@example.com" in email_text(smtp, old, 2)  # the old address is told
    page.get_by_label("6-digit code").fill("000000")
    page.get_by_role("button", name="Confirm the new email address").click()
    expect(page.locator("#code-error")).to_contain_text("wrong or no longer valid")
    shoot(page, "account-email-pending")

    page.get_by_label("6-digit code").fill(code_in(email_text(smtp, new)))
    page.get_by_role("button", name="Confirm the new email address").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.locator("#addresses-title + dl")).to_contain_text(new)

    page.goto(link_in(email_text(smtp, old, 3), "/account/undo/"))
    expect(page.get_by_role("heading", name="Take your account back")).to_be_visible()
    shoot(page, "account-undo")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Undo the change").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    log_in(page, old, NEW_PASSWORD)
    expect(page.locator("#addresses-title + dl")).to_contain_text(old)


def test_delete_the_account_on_its_page_then_keep_it(page: Page, server: AppServer,
                                                     smtp: SmtpServer):
    email = "leaver@example.com"
    make_verified_user(server, smtp, email)
    log_in(page, email)
    page.get_by_role("link", name="Delete my account").click()
    expect(page).to_have_url(re.compile(r"/account/delete$"))
    expect(page.locator("main")).to_contain_text("In 7 days")
    shoot(page, "account-delete")
    page.get_by_role("button", name="Delete my account").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("body")).to_contain_text("will be erased")
    shoot(page, "account-deleted")

    page.get_by_label("Email or phone number").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/login$"))  # refused while it waits

    page.goto(link_in(email_text(smtp, email, 2), "/account/delete/cancel/"))
    shoot(page, "account-delete-cancel")
    page.get_by_role("button", name="Keep my account").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    log_in(page, email)
