"""A stacked bar chart of matches per day per rule, as geometry for inline SVG.

The web page draws it server-side (no JavaScript, no CDN): this module only
computes rectangles, colours and labels; the template writes the ``<rect>``s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from watcher.review.stats import DayCount

PALETTE = (
    "#2563eb",
    "#dc2626",
    "#16a34a",
    "#d97706",
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#4b5563",
    "#65a30d",
    "#9333ea",
)
WIDTH, HEIGHT = 1100, 190
LEFT, BOTTOM, TOP = 34, 22, 8


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    label: str  # tooltip: "2026-11-20 · rule-id: 3"


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    legend: tuple[tuple[str, str], ...]  # (rule id, colour)
    x_labels: tuple[Tick, ...]
    y_labels: tuple[Tick, ...]
    total: int
    baseline: float


def build(
    counts: Sequence[DayCount], *, days: Sequence[str], width: int = WIDTH, height: int = HEIGHT
) -> Chart:
    """Bars for each day in ``days`` (oldest first), stacked by rule."""
    rules = sorted({c.rule_id for c in counts}, key=lambda r: -sum(c.count for c in counts if c.rule_id == r))
    colors = {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(rules)}
    per_day: dict[str, list[DayCount]] = {}
    for c in counts:
        per_day.setdefault(c.day, []).append(c)
    peak = max((sum(c.count for c in per_day.get(d, [])) for d in days), default=0) or 1
    plot_h = height - BOTTOM - TOP
    slot = (width - LEFT) / max(1, len(days))
    bars, x_labels = [], []
    for i, day in enumerate(days):
        x, y = LEFT + i * slot + slot * 0.15, float(height - BOTTOM)
        for c in sorted(per_day.get(day, []), key=lambda c: rules.index(c.rule_id)):
            h = plot_h * c.count / peak
            y -= h
            bars.append(
                Bar(
                    round(x, 1),
                    round(y, 1),
                    round(slot * 0.7, 1),
                    round(h, 1),
                    colors[c.rule_id],
                    f"{day} · {c.rule_id}: {c.count}",
                )
            )
        if i % max(1, len(days) // 6) == 0 or i == len(days) - 1:
            x_labels.append(Tick(round(LEFT + i * slot + slot / 2, 1), height - 6, day[5:]))
    y_labels = (Tick(LEFT - 6, height - BOTTOM, "0"), Tick(LEFT - 6, TOP + 8, str(peak)))
    return Chart(
        width,
        height,
        tuple(bars),
        tuple((r, colors[r]) for r in rules),
        tuple(x_labels),
        y_labels,
        sum(c.count for c in counts if c.day in set(days)),
        height - BOTTOM,
    )
