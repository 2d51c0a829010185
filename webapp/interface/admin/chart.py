"""The dashboard's funnel chart as plain geometry; the template draws it as inline SVG.

No script and no style attributes (the CSP forbids both): bars are <rect>s with
a class per series, coloured by admin.css.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from webapp.application.interfaces.staff import FunnelDay

SERIES = (("signups", "Signed up"), ("verified", "Verified"),
          ("customers", "Stripe customer"), ("subscribed", "Subscribed"))
WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 760, 220, 10, 30, 36


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, str, str]]  # x position, day label, text-anchor
    gridlines: list[tuple[float, int]]  # y position, value
    series: list[tuple[str, str, int]]  # key, label, 30-day total
    baseline: float


def funnel_chart(days: list[FunnelDay], today: date, span: int = 30,
                 billing: bool = True) -> Chart:
    """``billing`` False (no STRIPE_SECRET_KEY): signups and verified only."""
    by_day = {d.day: d for d in days}
    keys = [key for key, _ in SERIES
            if (key != "subscribed" or any(d.subscribed is not None for d in days))
            and (billing or key in ("signups", "verified"))]
    dates = [today - timedelta(days=span - 1 - i) for i in range(span)]
    peak = max([getattr(d, k) or 0 for d in days for k in keys] + [1])
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT) / span
    bar_w = max(1.0, (slot - 2) / len(keys))
    bars: list[Bar] = []
    for i, day in enumerate(dates):
        row = by_day.get(day)
        for j, key in enumerate(keys):
            value = (getattr(row, key) or 0) if row else 0
            h = plot_h * value / peak
            bars.append(Bar(x=round(LEFT + i * slot + 1 + j * bar_w, 1),
                            y=round(TOP + plot_h - h, 1), width=round(bar_w, 1),
                            height=round(h, 1), series=key,
                            title=f"{day.isoformat()}: {value} {dict(SERIES)[key].lower()}"))
    ticks = [(round(LEFT + i * slot + slot / 2, 1), day.strftime("%d %b"),
              "end" if i == span - 1 else "middle")
             for i, day in enumerate(dates) if i % 5 == 0 or i == span - 1]
    grid = [(round(TOP + plot_h - plot_h * v / peak, 1), v) for v in _steps(peak)]
    totals = [(key, label, sum((getattr(d, key) or 0) for d in days))
              for key, label in SERIES if key in keys]
    return Chart(WIDTH, HEIGHT, bars, ticks, grid, totals, TOP + plot_h)


def _steps(peak: int) -> list[int]:
    step = max(1, -(-peak // 4))
    return list(range(0, peak + 1, step))
