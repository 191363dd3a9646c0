"""Log maintenance: ``[watcher] keep_days`` prunes old unmatched articles.

The daemon calls :func:`prune` every six hours when ``keep_days`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from watcher.errors import PruneError
from watcher.store import articles as article_rows
from watcher.store.database import Store


@dataclass(frozen=True)
class Pruned:
    articles: int  # article rows deleted (their text and FTS entries with them)
    stories: int  # stories left with no member, deleted
    cutoff: str


PRUNE_BATCH = 500


def prune(store: Store, keep_days: float, now: datetime) -> Pruned:
    """Delete unmatched articles fetched more than ``keep_days`` ago.

    Kept: every matched article, every member of a story that has a matched
    member (the story stays whole), and anything an alert or feedback row
    points at. The ``entries`` rows stay, their ``article_id`` set to NULL, so
    a pruned entry is never fetched again. Stories left empty are deleted."""
    if keep_days <= 0:
        raise PruneError(f"keep_days must be above zero, got {keep_days}")
    cutoff = (now - timedelta(days=keep_days)).astimezone(timezone.utc).isoformat()
    articles = stories = 0
    while True:
        ids = article_rows.prunable(store, cutoff, PRUNE_BATCH)
        if not ids:
            return Pruned(articles, stories, cutoff)
        a, s = article_rows.delete(store, ids)
        articles, stories = articles + a, stories + s
