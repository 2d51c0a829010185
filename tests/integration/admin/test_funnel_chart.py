"""The dashboard chart's geometry: 30 days, every bar inside the plot, missing days as zero."""

from __future__ import annotations

from datetime import date

from webapp.application.interfaces import FunnelDay
from webapp.interface.admin.chart import funnel_chart


def test_thirty_days_of_bars_inside_the_plot():
    today = date(2026, 11, 24)
    days = [FunnelDay(date(2026, 11, 24), 8, 6, 3, None),
            FunnelDay(date(2026, 11, 1), 2, 1, 0, None)]
    chart = funnel_chart(days, today)
    assert len(chart.bars) == 30 * 3  # no subscription data yet: three series
    assert {b.series for b in chart.bars} == {"signups", "verified", "customers"}
    for bar in chart.bars:
        assert 0 <= bar.x <= chart.width and bar.height >= 0
        assert abs(bar.y + bar.height - chart.baseline) < 0.2
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.title == "2026-11-24: 8 signed up"
    assert chart.series == [("signups", "Signed up", 10), ("verified", "Verified", 7),
                            ("customers", "Stripe customer", 3)]
    assert chart.ticks[-1][1:] == ("24 Nov", "end")


def test_subscriptions_appear_once_billing_reports_them():
    chart = funnel_chart([FunnelDay(date(2026, 11, 24), 4, 3, 2, 1)], date(2026, 11, 24))
    assert ("subscribed", "Subscribed", 1) in chart.series
    assert len(chart.bars) == 30 * 4


def test_with_billing_off_only_signups_and_verified_are_drawn():
    chart = funnel_chart([FunnelDay(date(2026, 11, 24), 4, 3, 0, None)], date(2026, 11, 24),
                         billing=False)
    assert [key for key, _, _ in chart.series] == ["signups", "verified"]
    assert {b.series for b in chart.bars} == {"signups", "verified"}
