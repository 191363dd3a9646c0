"""Near misses: stored articles close in meaning to a rule's examples that no rule matched
(``watcher rules near-misses``, the web page's near misses), for an analyst to mark. A verdict
on one becomes an example of its rule (relevant: like it; irrelevant: unlike it)."""

from __future__ import annotations

from dataclasses import dataclass

from watcher.store import embeddings
from watcher.store.database import Store

DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class NearMiss:
    article_id: int
    rule_id: str
    score: float  # cosine similarity to the rule's closest example
    reference: str | None  # that example
    unlike: float | None  # similarity to the closest example of what the rule is not about
    title: str
    url: str
    feed: str
    fetched_at: str
    language: str | None
    verdict: str | None  # the latest verdict on the article, if any


def near_misses(
    store: Store,
    *,
    rule: str | None = None,
    floor: float = 0.0,
    limit: int = DEFAULT_LIMIT,
    since: str | None = None,
) -> tuple[NearMiss, ...]:
    """Unmatched articles closest to a rule's examples first (of one rule, or every rule)."""
    return tuple(
        NearMiss(
            r["article_id"],
            r["rule_id"],
            r["score"],
            r["reference"],
            r["unlike"],
            r["title"] or "(untitled)",
            r["url"],
            r["feed"],
            r["fetched_at"],
            r["language"],
            r["verdict"],
        )
        for r in embeddings.near_misses(store, rule=rule, floor=floor, limit=limit, since=since)
    )
