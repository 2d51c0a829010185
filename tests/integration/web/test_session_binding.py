"""A browser session is bound to the client address the proxies vouch for, not to a header.

Flask-Login's "strong" protection used to hash ``X-Forwarded-For`` as sent: a thief
replaying the victim's cookie from elsewhere passed by sending the victim's address in
that header. The binding now uses the address after ``TRUSTED_PROXIES`` hops.
"""

from __future__ import annotations

from tests.helpers.app import make_user
from tests.integration.web.conftest import login, own_app

VICTIM, THIEF, PROXY = "198.51.100.7", "203.0.113.66", "10.0.0.2"


def _account_page(client, remote: str, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.get("/account", headers=headers,
                      environ_base={"REMOTE_ADDR": remote}).status_code


def test_a_replayed_cookie_with_the_victims_address_in_the_header_is_refused(
        client, verified_user):
    client.environ_base["REMOTE_ADDR"] = VICTIM
    assert login(client, *verified_user).status_code == 303
    assert _account_page(client, VICTIM) == 200
    # no proxy is trusted: the header is the thief's own words
    assert _account_page(client, THIEF, forwarded=VICTIM) == 302
    # and the session is gone for good (strong protection clears it)
    assert _account_page(client, VICTIM) == 302


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(tmp_path):
    with own_app(tmp_path, TRUSTED_PROXIES=1) as app:
        user = make_user(app, "proxied@example.com")
        client = app.test_client()
        client.environ_base.update(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=VICTIM)
        assert login(client, user.email).status_code == 303
        assert _account_page(client, PROXY, forwarded=VICTIM) == 200
        # the proxy appends the real peer: a forged first entry does not make it the victim
        assert _account_page(client, PROXY, forwarded=f"{VICTIM}, {THIEF}") == 302
