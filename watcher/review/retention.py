"""Log maintenance: ``[watcher] keep_days`` prunes old unmatched articles, and
the write-ahead log is folded back into the database.

A prune is due when none has run for ``PRUNE_EVERY`` (six hours; the time of
the last one is kept in the database, ``meta.last_prune``). The daemon looks
every hour (:func:`maintain`), ``watcher run --once`` after its pass, and
``watcher prune`` prunes at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from watcher.errors import PruneError
from watcher.store import articles as article_rows
from watcher.store import database, embeddings, meta
from watcher.store.database import Store

PRUNE_EVERY = 6 * 3600.0  # seconds between two prunes
LAST_PRUNE = "last_prune"


@dataclass(frozen=True)
class Pruned:
    articles: int  # article rows deleted (their text and FTS entries with them)
    stories: int  # stories left with no member, deleted
    cutoff: str


@dataclass(frozen=True)
class Maintenance:
    pruned: Pruned | None  # None: no prune was due (or keep_days is not set)
    checkpointed: bool  # the write-ahead log was folded in and truncated
    wal_bytes: int  # the size of the log file before


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
            break
        a, s = article_rows.delete(store, ids)
        articles, stories = articles + a, stories + s
    with store.atomic():  # vectors no stored similarity needs (a rule's examples are re-embedded)
        embeddings.prune_unused(store, cutoff)
        meta.put(store, LAST_PRUNE, now.astimezone(timezone.utc).isoformat())
    return Pruned(articles, stories, cutoff)


def prune_due(store: Store, now: datetime) -> bool:
    """Whether no prune has run for PRUNE_EVERY (a last prune "in the future",
    after the clock was set back, counts as due)."""
    last = meta.get(store, LAST_PRUNE)
    if last is None:
        return True
    try:
        when = datetime.fromisoformat(last)
    except ValueError:
        return True
    elapsed = (now - when).total_seconds()
    return elapsed >= PRUNE_EVERY or elapsed < 0


def prune_if_due(store: Store, keep_days: float | None, now: datetime) -> Pruned | None:
    if not keep_days or not prune_due(store, now):
        return None
    return prune(store, keep_days, now)


def maintain(store: Store, keep_days: float | None, now: datetime) -> Maintenance:
    """Prune when due, then fold the write-ahead log into the database and
    truncate it, if no reader still needs it (else the next call tries again)."""
    pruned = prune_if_due(store, keep_days, now)
    done, size = database.checkpoint(store)
    return Maintenance(pruned, done, size)
