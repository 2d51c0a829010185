"""device_label: ua-parser's names for real user agents; never an error for junk."""

from __future__ import annotations

import pytest

from webapp.infrastructure.devices import device_label


@pytest.mark.parametrize(("agent", "label"), [
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
     "Firefox on Linux"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
     "like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", "Mobile Safari on iOS"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge on Windows"),
    ("curl/8.5.0", "curl"),
    ("MyApp/1.0", "MyApp/1.0"),
    ("", "Unknown device"),
])
def test_labels(agent, label):
    assert device_label(agent) == label


def test_junk_and_huge_agents_get_a_short_label():
    assert len(device_label("\x00" * 10 + "é" * 5000)) <= 40
    assert device_label("(" * 100_000)
