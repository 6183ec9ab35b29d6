"""Bar charts of checks and matches per day, drawn on the server as SVG geometry (no script,
nothing fetched): what the templates' chart macro needs, computed from day totals.

Owns the drawing only; which days and what they count is `admin.stats`'.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hashcheck.admin.stats import DayTotal

WIDTH = 720
HEIGHT = 140


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str  # shown on hover, read by screen readers: the day and its value


@dataclass(frozen=True)
class Chart:
    label: str
    bars: tuple[Bar, ...]
    most: int
    first: str
    last: str
    width: int = WIDTH
    height: int = HEIGHT


def chart(label: str, days: Sequence[DayTotal], value: Callable[[DayTotal], int]) -> Chart:
    """One bar per day (at least one day), scaled to the busiest."""
    values = [value(day) for day in days]
    most = max(values)
    step = WIDTH / len(days)
    thick = max(step * 0.8, 1.0)
    bars = []
    for index, (day, amount) in enumerate(zip(days, values, strict=True)):
        tall = 0.0 if most == 0 else HEIGHT * amount / most
        if amount and tall < 1:
            tall = 1.0  # a day with any at all shows
        bars.append(
            Bar(
                round(index * step, 2),
                round(HEIGHT - tall, 2),
                round(thick, 2),
                round(tall, 2),
                f"{day.day}: {amount:,}",
            )
        )
    return Chart(label, tuple(bars), most, days[0].day, days[-1].day)


def every_day(days: Sequence[DayTotal], first: str | None = None) -> list[DayTotal]:
    """The days from ``first`` (or the first given) to the last given, a day without any row
    counted as zero: a chart's axis is time, and a quiet day must show as one."""
    if not days:
        return []
    known = {d.day: d for d in days}
    day = dt.date.fromisoformat(first or days[0].day)
    last = dt.date.fromisoformat(days[-1].day)
    filled = []
    while day <= last:
        text = day.isoformat()
        filled.append(known.get(text, DayTotal(text, 0, 0)))
        day += dt.timedelta(days=1)
    return filled


def checks_and_matches(days: Sequence[DayTotal], first: str | None = None) -> list[Chart]:
    """The two charts every page shows: hashes checked, and matches, per day."""
    days = every_day(days, first)
    if not days:
        return []
    return [
        chart("Hashes checked per day", days, lambda d: d.checked),
        chart("Matches per day", days, lambda d: d.matched),
    ]
