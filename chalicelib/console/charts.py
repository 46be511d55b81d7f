"""Small stacked bar charts drawn on the server as inline SVG: no script, no image requests.

Colours come from CSS classes (``bar-applied`` …) in the console's stylesheet; the
Content-Security-Policy allows no inline styles, and presentation needs none here.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.store.stats import HourCounts

# Stacked bottom to top; "other" is stale + skipped (applied nothing, lost nothing).
SERIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("applied", ("applied",)),
    ("other", ("stale", "skipped")),
    ("duplicate", ("duplicate",)),
    ("quarantined", ("quarantined",)),
    ("refused", ("refused",)),
)
WIDTH, HEIGHT, TOP, BOTTOM = 480, 120, 8, 18


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
    labels: list[tuple[float, str]]  # x, text (every few hours)
    peak: int
    baseline: float
    totals: dict[str, int]


def hourly_chart(hours: list[HourCounts]) -> Chart:
    plot = HEIGHT - TOP - BOTTOM
    slot = WIDTH / max(len(hours), 1)
    stacks = [{name: sum(h.get(o) for o in outcomes) for name, outcomes in SERIES} for h in hours]
    peak = max((sum(s.values()) for s in stacks), default=0)
    bars: list[Bar] = []
    labels: list[tuple[float, str]] = []
    for index, (hour, stack) in enumerate(zip(hours, stacks, strict=True)):
        x = index * slot + slot * 0.15
        bottom = float(HEIGHT - BOTTOM)
        for name, count in stack.items():
            if not count:
                continue
            height = plot * count / peak
            bottom -= height
            bars.append(
                Bar(round(x, 1), round(bottom, 1), round(slot * 0.7, 1), round(height, 1), name, f"{hour.hour}:00 UTC — {name}: {count}")
            )
        if index % 6 == 0 or index == len(hours) - 1:
            labels.append((round(index * slot + slot / 2, 1), hour.hour[11:13] + "h"))
    totals = {outcome: sum(h.get(outcome) for h in hours) for outcome in ("received", "applied", "duplicate", "quarantined", "refused")}
    totals["other"] = sum(h.get("stale") + h.get("skipped") for h in hours)
    return Chart(WIDTH, HEIGHT, bars, labels, peak, float(HEIGHT - BOTTOM), totals)
