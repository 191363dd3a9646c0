"""Log maintenance: ``[watcher] keep_days`` prunes old unmatched articles.

The daemon calls :func:`prune` once a day (as ``watcher.review.prune``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from watcher.store.database import Store
from watcher.errors import PruneError


@dataclass(frozen=True)
class Pruned:
    articles: int                # article rows deleted (their text and FTS entries with them)
    stories: int                 # stories left with no member, deleted
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
        ids = [r["id"] for r in store.query("""
            SELECT a.id FROM articles a
            WHERE a.matched = 0 AND a.fetched_at < :cutoff
              AND a.id NOT IN (SELECT article_id FROM matches)
              AND a.id NOT IN (SELECT article_id FROM alerts)
              AND a.id NOT IN (SELECT article_id FROM feedback)
              AND (a.story_id IS NULL OR a.story_id NOT IN (
                   SELECT story_id FROM articles WHERE matched = 1 AND story_id IS NOT NULL))
            LIMIT :batch""", {"cutoff": cutoff, "batch": PRUNE_BATCH})]
        if not ids:
            return Pruned(articles, stories, cutoff)
        a, s = _delete_articles(store, ids)
        articles, stories = articles + a, stories + s


def _delete_articles(store: Store, ids: list[int]) -> tuple[int, int]:
    marks = ",".join("?" * len(ids))
    with store.atomic() as db:
        story_ids = [r[0] for r in db.execute(
            f"SELECT DISTINCT story_id FROM articles WHERE id IN ({marks}) AND story_id IS NOT NULL",
            ids).fetchall()]
        db.execute(f"UPDATE entries SET article_id = NULL WHERE article_id IN ({marks})", ids)
        db.execute(f"UPDATE articles SET duplicate_of = NULL WHERE duplicate_of IN ({marks})", ids)
        deleted = db.execute(f"DELETE FROM articles WHERE id IN ({marks})", ids).rowcount
        gone = 0
        for story_id in story_ids:
            if not db.execute("SELECT 1 FROM articles WHERE story_id = ? LIMIT 1", (story_id,)).fetchone():
                gone += db.execute("DELETE FROM stories WHERE id = ? AND NOT EXISTS ("
                                   "SELECT 1 FROM alerts WHERE story_id = ?)",
                                   (story_id, story_id)).rowcount
            else:
                _refresh_story_head(db, story_id)
    return deleted, gone


def _refresh_story_head(db, story_id: int) -> None:
    """A story whose first article was pruned now starts at its oldest remaining member."""
    db.execute("""UPDATE stories SET first_article_id = (
                      SELECT MIN(id) FROM articles WHERE story_id = :s)
                  WHERE id = :s AND first_article_id NOT IN (
                      SELECT id FROM articles WHERE story_id = :s)""", {"s": story_id})
