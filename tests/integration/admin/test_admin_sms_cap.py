"""Staff actions that text a user, at the site's daily SMS cap (``sms_global_daily``): the
staff page says that nothing was sent and when the cap has room again, instead of "queued"
for an SMS that was dropped; the user's live code still works."""

from __future__ import annotations

import html
import re

import pytest

from tests.conftest import PASSWORD, Outbox
from tests.helpers.app import audit_rows, csrf_token, log_in, make_user, services

PHONE = "+14155552671"


@pytest.mark.parametrize("action", ["resend_verification", "send_reset"])
def test_at_the_sms_cap_the_staff_page_says_no_sms_was_sent(app_factory, action):
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SMS_GLOBAL_DAILY="1/day")
    with app.app_context():  # the day's one SMS: the verification code
        services(app).accounts.register(email=None, phone=PHONE, password=PASSWORD)
    code = Outbox(app).code("sms", PHONE)
    client = app.test_client()
    log_in(client, make_user(app, "boss@example.com", staff=True))
    with app.app_context():
        user_id = services(app).admin.user_id_for(PHONE)

    path = f"/admin/users/{user_id}/{action}"
    done = client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert done.status_code == 302
    page = html.unescape(client.get(done.location).text)
    assert "queued" not in page
    said = re.search(r"No SMS was sent: the site's daily SMS cap is reached \(it has room "
                     r"again on [^)]+ UTC\)\.", page)
    assert said, page[:3000]
    assert len(Outbox(app).all("sms")) == 1
    assert [e.data["template"] for e in audit_rows(app, "sms_cap_reached")] == [
        "verify" if action == "resend_verification" else "reset"]
    assert not [e for e in audit_rows(app, "authz_admin") if e.data["action"] == action]
    verified = client.post("/api/auth/phone-verify/", json={"phone": PHONE, "code": code})
    assert verified.status_code == 200, verified.json
