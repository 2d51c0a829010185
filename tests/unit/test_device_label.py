"""The device label the staff pages show instead of a raw user agent."""

from __future__ import annotations

import pytest

from webapp.application.devices import UNKNOWN, device_label

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                  "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")


@pytest.mark.parametrize(("agent", "label"), [
    (FIREFOX_LINUX, "Firefox on Linux"),
    (CHROME_WINDOWS, "Chrome on Windows"),
    (SAFARI_IPHONE, "Mobile Safari on iOS"),
    ("curl/8.5.0", "curl"),
    ("python-requests/2.32.3", "Python Requests"),
])
def test_names_browser_and_system(agent: str, label: str):
    assert device_label(agent) == label


@pytest.mark.parametrize("agent", [None, "", "   ", "\x00\x01 gibberish"])
def test_unreadable_or_missing_agents_are_an_unknown_device(agent: str | None):
    assert device_label(agent) == UNKNOWN


def test_a_huge_agent_is_cut_before_parsing():
    assert device_label(FIREFOX_LINUX + "x" * 100_000) == "Firefox on Linux"
