"""A budget of several windows (``sms_per_client`` is ``10/hour;30/day``, and any
``RATELIMIT_<NAME>`` may have more than one) counts only the events it lets through: a
request refused by one window spends nothing of the others, so the wait its 429 gave is
the wait there is. On the database's counters (fixed windows, every deployment's per-
account and per-destination budgets) and in memory (moving windows). The end of a window
is simulated by clearing it, as the passing of its time would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from limits import parse
from limits.storage import MemoryStorage

from webapp.infrastructure.shared_limits import DatabaseStorage
from webapp.infrastructure.throttle import PREFIX, LimitsRateLimiter

KEY = "sms_per_client:client"


@pytest.fixture
def database_limiter(app_factory) -> Iterator[LimitsRateLimiter]:
    """On the app's own counters: the SQLite file beside its database, or PostgreSQL's
    rate_counters table when TEST_DATABASE_URL names one."""
    app = app_factory(RATELIMIT_ENABLED=True)
    with app.app_context():
        yield LimitsRateLimiter(DatabaseStorage(engine=app.extensions["rate_counters"][0]))


@pytest.fixture(params=["database", "memory"])
def limiter(request) -> LimitsRateLimiter:
    if request.param == "memory":
        return LimitsRateLimiter(MemoryStorage())
    return request.getfixturevalue("database_limiter")


def window_ends(limiter: LimitsRateLimiter, window: str) -> None:
    limiter.strategy.clear(parse(window), PREFIX, KEY)


def test_refusals_by_the_hour_do_not_spend_the_day(limiter):
    answers = [limiter.hit("2/hour;4/day", KEY) for _ in range(6)]
    assert answers[:2] == [0, 0]
    assert all(3500 < wait <= 3600 for wait in answers[2:])  # "come back in an hour"
    window_ends(limiter, "2/hour")
    # an hour later the day has the two it promised left, not nothing for a day
    assert [limiter.hit("2/hour;4/day", KEY) for _ in range(2)] == [0, 0]
    assert limiter.hit("2/hour;4/day", KEY) > 80000  # now the day is spent


def test_refusals_by_the_day_do_not_spend_the_hour(database_limiter):
    """On the database's fixed windows (a moving window in memory keeps the unit)."""
    limiter = database_limiter
    assert [limiter.hit("2/hour;3/day", KEY) for _ in range(2)] == [0, 0]
    window_ends(limiter, "2/hour")
    assert limiter.hit("2/hour;3/day", KEY) == 0  # the day's third
    refused = [limiter.hit("2/hour;3/day", KEY) for _ in range(5)]
    assert all(wait > 80000 for wait in refused)
    window_ends(limiter, "3/day")
    # the day ended: the hour open through the refusals counted only the one it let by
    assert limiter.hit("2/hour;3/day", KEY) == 0
    assert 0 < limiter.hit("2/hour;3/day", KEY) <= 3600


def test_the_order_the_windows_are_written_in_does_not_matter(limiter):
    assert [limiter.hit("4/day;2/hour", KEY) for _ in range(5)][:2] == [0, 0]
    window_ends(limiter, "2/hour")
    assert [limiter.hit("4/day;2/hour", KEY) for _ in range(2)] == [0, 0]
