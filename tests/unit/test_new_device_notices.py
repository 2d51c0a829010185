"""New-device notices with fakes: the first sign-in is quiet, a known device is quiet,
a new one is announced once, a device unseen for 90 days is new again; browsers by their
device id, API clients by user agent and network; email, or SMS for a phone-only account."""

from __future__ import annotations

import pytest

from tests.helpers.world import EMAIL, PASSWORD, PHONE, verified
from webapp.application.interfaces import RequestInfo
from webapp.application.signin import Door, UnitOfWorkLogins
from webapp.domain.sessions import ip_network


def sign_in(world, device=None, door=Door.BROWSER, email=EMAIL, phone=None):
    return world.services.signin.with_password(email=email, phone=phone, password=PASSWORD,
                                               door=door, device=device)


def notices(world, to=EMAIL):
    return [m for m in world.emails(to) if m.payload["template"] == "new_device"]


def from_(world, ip="192.0.2.1", agent="pytest"):
    world.ports.request.info = RequestInfo(ip=ip, user_agent=agent, request_id="r")


def test_first_sign_in_is_quiet_a_second_browser_is_announced_once(world):
    verified(world)
    sign_in(world, device="a" * 32)  # right after registering: nothing to compare with
    sign_in(world, device="a" * 32)
    assert notices(world) == []
    from_(world, ip="203.0.113.9", agent="Firefox")
    sign_in(world, device="b" * 32)
    sign_in(world, device="b" * 32)
    [notice] = notices(world)
    body = notice.payload["text"]
    assert "device=device of Firefox" in body and "ip=203.0.113.9" in body
    assert "link=http://localhost:5000/account/sessions" in body
    assert "when=2026-01-01 12:00 UTC" in body
    assert world.audit_kinds().count("new_device_signin") == 1


def test_a_browser_without_a_device_id_is_not_tracked(world):
    verified(world)
    sign_in(world, device="a" * 32)
    sign_in(world, device=None)
    assert notices(world) == [] and len(world.store.devices) == 1


def test_a_device_unseen_for_90_days_is_new_again(world):
    verified(world)
    sign_in(world, device="a" * 32)
    sign_in(world, device="b" * 32)
    world.clock.advance(days=89)
    sign_in(world, device="a" * 32)  # seen 89 days ago: known
    assert len(notices(world)) == 1
    world.clock.advance(days=91)
    sign_in(world, device="b" * 32)  # 180 days: new again
    assert len(notices(world)) == 2


def test_api_clients_by_user_agent_and_network(world):
    verified(world)
    sign_in(world, door=Door.API)
    from_(world, ip="192.0.2.77")  # the same /24, the same agent: the same client
    sign_in(world, door=Door.API)
    assert notices(world) == []
    from_(world, ip="192.0.2.77", agent="curl/8.5")
    sign_in(world, door=Door.API)
    from_(world, ip="198.51.100.1", agent="curl/8.5")
    sign_in(world, door=Door.API)
    assert len(notices(world)) == 2


def test_phone_only_accounts_get_a_text(world):
    verified(world, email=None, phone=PHONE)
    sign_in(world, email=None, phone=PHONE, device="a" * 32)
    sign_in(world, email=None, phone=PHONE, device="b" * 32)
    [text] = [m for m in world.texts(PHONE) if m.payload["template"] == "new_device"]
    assert "link=http://localhost:5000/account/sessions" in text.payload["body"]


def test_a_known_device_is_written_at_most_once_a_day_with_the_login(world):
    verified(world)
    sign_in(world, device="a" * 32)
    [device] = world.store.devices.values()
    first = device.last_seen_at
    world.clock.advance(hours=23)
    sign_in(world, device="a" * 32)  # within the day: the login writes nothing for it
    [device] = world.store.devices.values()
    assert device.last_seen_at == first
    world.clock.advance(hours=2)
    sign_in(world, device="a" * 32)
    [device] = world.store.devices.values()
    assert device.last_seen_at == world.clock.now() and device.first_seen_at == first


def test_the_device_is_recorded_in_the_logins_own_write(world):
    verified(world)
    sign_in(world, device="a" * 32)
    opened = []
    uow = world.ports.uow

    def counting():  # noqa: ANN202
        opened.append(1)
        return uow()

    world.ports.uow = counting
    world.services.signin.logins = UnitOfWorkLogins(counting)
    sign_in(world, device="a" * 32)
    assert len(opened) == 2  # the login's read and its write: none of the notices' own


def test_api_clients_of_a_dual_stack_server_by_their_ipv4_network(world):
    """A dual-stack server sees IPv4 clients as ``::ffff:a.b.c.d``: each is still counted
    in its own IPv4 /24, not all in one network (which announced no new client at all)."""
    verified(world)
    from_(world, ip="::ffff:192.0.2.1")
    sign_in(world, door=Door.API)
    from_(world, ip="::ffff:192.0.2.77")  # the same /24: the same client
    sign_in(world, door=Door.API)
    from_(world, ip="192.0.2.78")  # the same client, seen over IPv4
    sign_in(world, door=Door.API)
    assert notices(world) == []
    from_(world, ip="::ffff:198.51.100.1")
    sign_in(world, door=Door.API)
    assert len(notices(world)) == 1


@pytest.mark.parametrize(("address", "network"), [
    ("192.0.2.77", "192.0.2.0/24"),
    ("::ffff:192.0.2.77", "192.0.2.0/24"),
    ("192.0.2.77:4711", "192.0.2.0/24"),
    ("2001:db8:85a3::1", "2001:db8:85a3::/48"),
    ("2001:0db8:85a3:0000:0000:0000:0000:0001", "2001:db8:85a3::/48"),
    ("2001:db8::1", "2001:db8::/48"),
    ("2001:db8:0:ffff::1", "2001:db8::/48"),
    ("[2001:db8:85a3::1]:4711", "2001:db8:85a3::/48"),
    ("unknown", "unknown"),
    ("", ""),
])
def test_ip_network(address, network):
    assert ip_network(address) == network
