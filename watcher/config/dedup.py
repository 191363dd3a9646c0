"""``[dedup]``: when two articles are one story."""

from __future__ import annotations

from dataclasses import dataclass

from watcher.config.reader import Reader, Table


@dataclass(frozen=True)
class DedupConfig:
    window_days: float = 7.0  # only articles this recent are compared
    max_distance: int = 18  # SimHash bits (of 64) within which a stored article is a candidate
    min_resemblance: float = 0.4  # share of word 3-grams in common that joins a candidate's story


def read_dedup(r: Reader, raw: Table) -> DedupConfig:
    s = r.section(raw, "dedup", {"window_days", "max_distance", "min_resemblance"})
    d = DedupConfig()
    window = r.typed(s, "dedup.", "window_days", (int, float), d.window_days)
    if not 0 < window <= 3650:
        r.fail("dedup.window_days", f"must be a number of days above zero and at most 3,650, got {window}")
        window = d.window_days
    distance = r.typed(s, "dedup.", "max_distance", int, d.max_distance)
    if not 0 <= distance <= 32:
        r.fail("dedup.max_distance", "must be between 0 (exact) and 32 bits")
        distance = d.max_distance
    resemblance = r.typed(s, "dedup.", "min_resemblance", (int, float), d.min_resemblance)
    if not 0 < resemblance <= 1:
        r.fail("dedup.min_resemblance", f"must be above 0 and at most 1 (e.g. 0.4), got {resemblance}")
        resemblance = d.min_resemblance
    return DedupConfig(window_days=float(window), max_distance=distance, min_resemblance=float(resemblance))
