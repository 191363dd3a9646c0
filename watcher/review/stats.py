"""Per-rule statistics: matches, stories and verdicts (``watcher rules stats``,
the rules page), and matches per day (the charts)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from watcher.store import matches
from watcher.store.database import Store


@dataclass(frozen=True)
class RuleStat:
    rule_id: str
    title: str
    severity: str
    matches: int  # matched articles
    stories: int
    relevant: int  # matched articles whose latest feedback says relevant
    irrelevant: int
    last_match: str | None

    @property
    def judged(self) -> int:
        return self.relevant + self.irrelevant

    @property
    def precision(self) -> float | None:
        return self.relevant / self.judged if self.judged else None

    @property
    def noisy(self) -> bool:
        """At least 3 judgements and half or more of them irrelevant."""
        return self.judged >= 3 and self.irrelevant * 2 >= self.judged


def rule_stats(
    store: Store, *, since: str | None = None, known: Iterable[tuple[str, str, str]] = ()
) -> tuple[RuleStat, ...]:
    """Per-rule counts of matches and of feedback, most matches first.
    ``known`` (rule id, title, severity) adds configured rules that never matched."""
    stats = [
        RuleStat(
            r["rule_id"],
            r["title"],
            r["severity"],
            r["matches"],
            r["stories"],
            r["relevant"] or 0,
            r["irrelevant"] or 0,
            r["last_match"],
        )
        for r in matches.per_rule(store, since=since)
    ]
    seen = {s.rule_id for s in stats}
    stats += [RuleStat(rid, title, sev, 0, 0, 0, 0, None) for rid, title, sev in known if rid not in seen]
    return tuple(stats)


@dataclass(frozen=True)
class DayCount:
    day: str  # YYYY-MM-DD (UTC)
    rule_id: str
    count: int


def matches_per_day(store: Store, *, since: str, rule: str | None = None) -> tuple[DayCount, ...]:
    return tuple(
        DayCount(day, rule_id, n) for day, rule_id, n in matches.per_day(store, since=since, rule=rule)
    )
