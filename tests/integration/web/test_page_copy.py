"""Copy a newcomer noticed: links where they help, one sentence where one is enough."""

from __future__ import annotations

FORGOT = '">Forgot your password?</a>'  # the footer's link (the /reset heading is no link)


def test_the_footer_offers_a_reset_where_it_helps(client):
    assert FORGOT in client.get("/login").text
    for path in ("/reset", "/reset/code", "/reset/not-a-real-token", "/no-such-page"):
        assert FORGOT not in client.get(path).text, path


def test_a_dead_reset_link_asks_for_a_new_one_once(client):
    page = client.get("/reset/not-a-real-token").text
    assert page.count("new one") == 1 and "Ask for a new one" not in page
    assert "Get a new link" in page


def test_the_dev_outbox_does_not_count_what_it_shows(app_factory):
    app = app_factory(APP_ENV="development")
    client = app.test_client()
    client.post("/api/auth/register/", json={"email": "jane@example.com",
                                             "password": "correct horse battery staple"})
    page = client.get("/dev/outbox").text
    assert "newest first" in page and "the newest 1 are shown" not in page
