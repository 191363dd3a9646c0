"""Backtests: run a rule set over stored articles and compare with the log.

Nothing is sent and the log is not changed: the report says which articles the
rule set would match now, and how that differs from what matched when each
article was stored (new hits, lost hits, per rule). For rules with like/about
examples the articles' vectors come from the database's cache (``embeddings``);
an article never embedded before is embedded once and its vector kept there, so
the next backtest does not embed it again. An article's own verdict is never an
example for itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from watcher.match.matcher import Document, Matcher
from watcher.match.meaning import Examples, StoredVectors, without
from watcher.store import articles, matches
from watcher.store.database import Store

BATCH = 200
MAX_EXAMPLES = 20


@dataclass(frozen=True)
class Change:
    article_id: int
    title: str
    rule_id: str


@dataclass(frozen=True)
class RuleDiff:
    rule_id: str
    title: str
    before: int  # articles the log says matched this rule
    after: int  # articles the rule set matches now
    new: int  # matches now, did not then
    lost: int  # matched then, does not now

    @property
    def changed(self) -> bool:
        return bool(self.new or self.lost)


@dataclass(frozen=True)
class Report:
    articles: int  # articles scanned
    matched_before: int  # of those, articles with at least one match in the log
    matched_after: int
    rules: tuple[RuleDiff, ...]  # every rule seen on either side, most changed first
    new: tuple[Change, ...]  # up to ``examples`` new hits, newest articles first
    lost: tuple[Change, ...]

    @property
    def new_total(self) -> int:
        return sum(r.new for r in self.rules)

    @property
    def lost_total(self) -> int:
        return sum(r.lost for r in self.rules)


def count(store: Store, *, since: str | None = None) -> int:
    """How many articles a backtest with ``since`` will scan (for a progress bar)."""
    return articles.count(store, since=since)


def run(
    store: Store,
    matcher: Matcher,
    *,
    since: str | None = None,
    progress: Callable[[int], None] | None = None,
    examples: int = MAX_EXAMPLES,
    rules: Sequence[tuple[str, str]] = (),
) -> Report:
    """Match every stored article fetched at or after ``since`` with ``matcher``.

    ``progress(n)`` is called after each batch of ``n`` articles. ``rules``
    (id, title) lists the rule set's rules, so that a rule that would match
    nothing is reported too."""
    tally = _Tally(examples)
    for rule_id, title in rules:
        tally.titles[rule_id] = title
        tally.counts[rule_id] = [0, 0, 0, 0]
    vectors = StoredVectors(store, matcher.embedder) if matcher.embedder is not None else None
    last = 0
    while True:
        rows = articles.documents(store, after=last, since=since, size=BATCH)
        if not rows:
            break
        before = matches.between(store, rows[0]["id"], rows[-1]["id"])
        for row in rows:
            if vectors is None:
                found = matcher.match(_document(row))
            else:
                found = matcher.assess(
                    _document(row),
                    vectors=vectors,
                    examples=functools.partial(_learnt, vectors, row["id"]),
                ).matches
            after = {m.rule_id: m.title for m in found}
            tally.add(row, before.get(row["id"], {}), after)
        last = rows[-1]["id"]
        if progress:
            progress(len(rows))
    return tally.report()


def _learnt(vectors: StoredVectors, article_id: int, rule_id: str) -> Examples:
    return without(vectors.examples(rule_id), article_id)


def _document(row: dict) -> Document:
    return Document(
        id=row["guid"] or str(row["id"]),
        title=row["title"] or "",
        text=row["text"] or "",
        summary=row["summary"] or "",
        url=row["url"],
        published=row["published"],
        language=row["language"],
        detected_language=row.get("detected_language"),
    )


class _Tally:
    def __init__(self, examples: int) -> None:
        self.examples = examples
        self.articles = self.before_any = self.after_any = 0
        self.titles: dict[str, str] = {}
        self.counts: dict[str, list[int]] = {}  # rule -> [before, after, new, lost]
        self.new: list[Change] = []
        self.lost: list[Change] = []

    def add(self, row: dict, before: dict[str, str], after: dict[str, str]) -> None:
        self.articles += 1
        self.before_any += bool(before)
        self.after_any += bool(after)
        for rule_id, title in {**before, **after}.items():
            self.titles[rule_id] = after.get(rule_id, title)
            c = self.counts.setdefault(rule_id, [0, 0, 0, 0])
            c[0] += rule_id in before
            c[1] += rule_id in after
            if rule_id in after and rule_id not in before:
                c[2] += 1
                self.new.append(Change(row["id"], row["title"] or "(untitled)", rule_id))
            elif rule_id in before and rule_id not in after:
                c[3] += 1
                self.lost.append(Change(row["id"], row["title"] or "(untitled)", rule_id))
        del self.new[: -self.examples or None]
        del self.lost[: -self.examples or None]

    def report(self) -> Report:
        rules = sorted(
            (RuleDiff(r, self.titles[r], *c) for r, c in self.counts.items()),
            key=lambda d: (-(d.new + d.lost), -d.after, d.rule_id),
        )
        return Report(
            self.articles,
            self.before_any,
            self.after_any,
            tuple(rules),
            tuple(reversed(self.new)),
            tuple(reversed(self.lost)),
        )
