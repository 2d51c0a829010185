"""The 429 page says how long to wait. It said "Wait a minute" whatever the wait: a
user whose address had spent its hour of reset requests waited a minute, was refused
again, and again. The page of an address over its budget, and of a service's refusal."""

from __future__ import annotations

import re

import pytest

from tests.integration.web.conftest import submit, text


def lead(response) -> str:
    return re.sub(r"\s+", " ", re.search(r'class="lead">(.*?)</p>', text(response), re.S)[1])


def test_the_address_budget_page_says_the_hour_it_waits(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_RESET="1/hour")
    client = app.test_client()
    assert submit(client, "/reset", {"identifier": "a@example.com"}).status_code == 303
    refused = submit(client, "/reset", {"identifier": "b@example.com"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 3500
    assert "Wait 60 minutes, then try again." in lead(refused)


def test_a_minute_window_page_says_the_seconds_it_waits(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="1/minute")
    client = app.test_client()
    form = {"identifier": "a@example.com", "password": "wrong password!"}
    assert submit(client, "/login", form).status_code == 422
    refused = submit(client, "/login", form)
    assert refused.status_code == 429
    seconds = int(re.search(r"Wait (\d+) seconds, then", lead(refused))[1])
    assert abs(seconds - int(refused.headers["Retry-After"])) <= 1 and 50 < seconds <= 60


@pytest.mark.parametrize("seconds,words", [
    (1, "1 second"), (42, "42 seconds"), (90, "90 seconds"), (91, "2 minutes"),
    (3600, "60 minutes"), (5400, "90 minutes"), (5401, "2 hours"), (86400, "24 hours"),
])
def test_the_wait_in_words(app_factory, seconds, words):
    from webapp.domain.errors import Throttled

    app = app_factory(RATELIMIT_ENABLED=True)

    @app.route("/throttled-page")
    def throttled_page():
        raise Throttled(seconds)

    response = app.test_client().get("/throttled-page")
    assert response.status_code == 429 and response.headers["Retry-After"] == str(seconds)
    assert f"Wait {words}, then try again." in lead(response)
