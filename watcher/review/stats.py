"""Per-rule statistics: matches, stories and verdicts (``watcher rules stats``,
the rules page), and matches per day (the charts)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from watcher.match.meaning import VERDICT_MARGIN, cosine, from_bytes, neighbour_mean
from watcher.store import embeddings, matches
from watcher.store.database import Store


@dataclass(frozen=True)
class LanguageStat:
    """One rule's matches in one language (detected, else declared; '' unknown)."""

    language: str
    matches: int
    relevant: int
    irrelevant: int

    @property
    def precision(self) -> float | None:
        judged = self.relevant + self.irrelevant
        return self.relevant / judged if judged else None


@dataclass(frozen=True)
class Learning:
    """What the rule's verdicts would change if they ranked its matches: each judged article is
    compared (leaving its own verdict out) with the articles marked relevant and irrelevant; it
    is kept when it is at least as close to the relevant ones (the mean of the nearest few on each
    side), and a near miss marked relevant is added when it is VERDICT_MARGIN closer."""

    judged: int  # matched articles with a verdict and a stored vector
    relevant: int
    kept: int  # of the judged matches, those the verdicts would keep
    kept_relevant: int
    added: int  # near misses marked relevant that the verdicts would bring in
    unjudgeable: int  # judged matches without a vector (never embedded)

    @property
    def precision_now(self) -> float | None:
        return self.relevant / self.judged if self.judged else None

    @property
    def precision_with_verdicts(self) -> float | None:
        total = self.kept + self.added
        return (self.kept_relevant + self.added) / total if total else None

    def describe(self) -> str:
        now, then = self.precision_now, self.precision_with_verdicts
        if now is None or then is None or self.judged < 2:
            return ""
        extra = f", +{self.added} near miss(es)" if self.added else ""
        return f"{now:.0%} → {then:.0%} (keeps {self.kept} of {self.judged}{extra})"


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
    languages: tuple[LanguageStat, ...] = ()
    learning: Learning | None = None

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
    by_language: dict[str, list[LanguageStat]] = {}
    for r in matches.per_rule_language(store, since=since):
        by_language.setdefault(r["rule_id"], []).append(
            LanguageStat(r["lang"] or "", r["matches"], r["relevant"], r["irrelevant"])
        )
    learnt = learning(store)
    return tuple(
        replace(s, languages=tuple(by_language.get(s.rule_id, ())), learning=learnt.get(s.rule_id))
        for s in stats
    )


def learning(store: Store) -> dict[str, Learning]:
    """Per rule, what its verdicts would do to its precision (see :class:`Learning`)."""
    rows: dict[str, list[dict]] = {}
    for row in embeddings.judged(store):
        rows.setdefault(row["rule_id"], []).append(row)
    out = {}
    for rule_id, judged in rows.items():
        vectors = {r["article_id"]: from_bytes(r["vector"]) for r in judged if r["vector"]}
        relevant = [
            r["article_id"] for r in judged if r["verdict"] == "relevant" and r["article_id"] in vectors
        ]
        irrelevant = [
            r["article_id"] for r in judged if r["verdict"] == "irrelevant" and r["article_id"] in vectors
        ]
        count = rel = kept = kept_rel = added = missing = 0
        for r in judged:
            article = r["article_id"]
            if article not in vectors:
                missing += bool(r["rule_matched"])
                continue
            if r["rule_matched"]:
                keep = _kept(vectors, article, relevant, irrelevant)
                count += 1
                rel += r["verdict"] == "relevant"
                kept += keep
                kept_rel += keep and r["verdict"] == "relevant"
            elif (
                r["verdict"] == "relevant"
                and irrelevant
                and _kept(vectors, article, relevant, irrelevant, VERDICT_MARGIN)
            ):
                added += 1
        out[rule_id] = Learning(count, rel, kept, kept_rel, added, missing)
    return out


def _kept(
    vectors: dict, article: int, relevant: list[int], irrelevant: list[int], margin: float = 0.0
) -> bool:
    """Whether the article is at least ``margin`` closer to the articles marked relevant than to
    those marked irrelevant (the mean of the nearest few on each side, as the matcher compares)."""
    mine = vectors[article]
    like = [cosine(mine, vectors[a]) for a in relevant if a != article]
    unlike = [cosine(mine, vectors[a]) for a in irrelevant if a != article]
    if not unlike:
        return True
    return bool(like) and neighbour_mean(like) >= neighbour_mean(unlike) + margin


@dataclass(frozen=True)
class DayCount:
    day: str  # YYYY-MM-DD (UTC)
    rule_id: str
    count: int


def matches_per_day(store: Store, *, since: str, rule: str | None = None) -> tuple[DayCount, ...]:
    return tuple(
        DayCount(day, rule_id, n) for day, rule_id, n in matches.per_day(store, since=since, rule=rule)
    )
