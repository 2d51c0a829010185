"""The site's daily SMS cap over HTTP: both doors refuse a request that would text a
number once the cap is spent, before a new code could replace the live one."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, Outbox
from tests.integration.web.conftest import submit

PHONE = "+14155552671"


@pytest.mark.parametrize("door", ["api", "web"])
def test_at_the_sms_cap_a_resend_or_reset_is_a_429_and_the_live_code_still_works(
        app_factory, door):
    """Carried over: the resend answered as ever, issued a new code (the live one died) and
    dropped its SMS: the owner was left with no working code."""
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SMS_GLOBAL_DAILY="1/day")
    with app.app_context():  # the day's one SMS: the verification code
        app.extensions["services"].accounts.register(email=None, phone=PHONE,
                                                     password=PASSWORD)
    code = Outbox(app).code("sms", PHONE)
    client = app.test_client()
    for api_path, page in (("/api/auth/phone-verify/resend/", "/verify/resend"),
                           ("/api/auth/password-reset/", "/reset")):
        for number in (PHONE, "+14155550000"):  # known or not: the same refusal
            if door == "api":
                answer = client.post(api_path, json={"phone": number})
                assert answer.json["code"] == "throttled"
            else:
                answer = submit(client, page, {"identifier": number},
                                page="/verify" if page == "/verify/resend" else page)
            assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
    assert len(Outbox(app).all("sms")) == 1
    verified = client.post("/api/auth/phone-verify/", json={"phone": PHONE, "code": code})
    assert verified.status_code == 200, verified.json
