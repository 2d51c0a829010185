"""The per-client-address limits count what one client can actually vary: an IPv6
client is given a whole /64 (its router hands every device addresses of it, and privacy
extensions rotate through it at will), and an IPv4 client may reach a dual-stack server
as ``::ffff:a.b.c.d``. Each is one client, with one budget."""

from __future__ import annotations

import pytest

from webapp.domain.sessions import limited_network

WRONG = "not the password at all"


def login_from(client, address: str, i: int):
    return client.post("/api/auth/login/", json={"email": f"user{i}@example.com",
                                                 "password": WRONG},
                       environ_base={"REMOTE_ADDR": address})


def test_rotating_through_one_ipv6_64_does_not_reset_the_login_budget(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3/minute")
    client = app.test_client()
    rotating = [login_from(client, f"2001:db8:1:2::{i:x}", i) for i in range(1, 6)]
    assert [r.status_code for r in rotating] == [401] * 3 + [429] * 2
    assert int(rotating[-1].headers["Retry-After"]) > 0
    # a neighbour in another /64 of the same provider has its own budget
    assert login_from(client, "2001:db8:1:3::1", 9).status_code == 401


def test_an_ipv4_mapped_address_is_the_same_client_as_its_ipv4_one(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="2/minute")
    client = app.test_client()
    answers = [login_from(client, address, i) for i, address in
               enumerate(["198.51.100.7", "::ffff:198.51.100.7", "198.51.100.7"])]
    assert [r.status_code for r in answers] == [401, 401, 429]
    assert login_from(client, "198.51.100.8", 9).status_code == 401  # the next address


def test_the_sms_budget_of_a_client_is_one_for_its_ipv6_64(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SMS_PER_CLIENT="2/hour")
    client = app.test_client()
    answers = [client.post("/api/auth/password-reset/", json={"phone": f"+1415555267{i}"},
                           environ_base={"REMOTE_ADDR": f"2001:db8:7:7:{i}::1"})
               for i in range(3)]
    assert [r.status_code for r in answers] == [202, 202, 429]
    assert int(answers[-1].headers["Retry-After"]) > 0


def test_a_port_beside_the_forwarded_address_does_not_make_a_new_client(app_factory):
    """Some proxies (Azure's gateways) write the client's port into X-Forwarded-For: a
    new connection must not be a new budget."""
    app = app_factory(RATELIMIT_ENABLED=True, TRUSTED_PROXIES=1, RATELIMIT_LOGIN="2/minute")
    client = app.test_client()
    answers = [client.post("/api/auth/login/",
                           json={"email": f"user{port}@example.com", "password": WRONG},
                           headers={"X-Forwarded-For": forwarded})
               for port, forwarded in enumerate(["203.0.113.9:50001", "203.0.113.9:50002",
                                                 "203.0.113.9:50003"])]
    assert [r.status_code for r in answers] == [401, 401, 429]


@pytest.mark.parametrize("address,network", [
    ("203.0.113.9", "203.0.113.9"),
    ("::ffff:203.0.113.9", "203.0.113.9"),
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
    ("fe80::1%eth0", "fe80::/64"),
    ("203.0.113.9:4711", "203.0.113.9"),
    ("[2001:db8:1:2::9]:4711", "2001:db8:1:2::/64"),
    ("[::ffff:203.0.113.9]", "203.0.113.9"),
    ("2001:db8::1:4711", "2001:db8::/64"),
    ("", ""),
    ("not an address", "not an address"),
])
def test_limited_network(address, network):
    assert limited_network(address) == network


def test_a_request_with_no_client_address_still_has_a_budget(app_factory):
    """gunicorn bound to a unix socket gives an empty REMOTE_ADDR (and so does a proxied
    request without X-Forwarded-For): Flask-Limiter skips a limit whose key is empty, so
    every per-client limit was off. They share one budget instead, as behind a proxy."""
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="2/minute")
    client = app.test_client()
    answers = [login_from(client, "", i) for i in range(3)]
    assert [r.status_code for r in answers] == [401, 401, 429]
    assert int(answers[-1].headers["Retry-After"]) > 0
