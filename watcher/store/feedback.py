"""Feedback: ``feedback``, a person's verdicts on articles. Every verdict is
kept; the newest one per article is the one that counts."""

from __future__ import annotations

from collections.abc import Iterable

from watcher.store.database import Store, marks


def add(store: Store, article_id: int, verdict: str, note: str | None, created_at: str) -> int:
    """Record a verdict; returns its id."""
    return (
        store.execute(
            "INSERT INTO feedback (article_id, verdict, note, created_at) VALUES (?, ?, ?, ?)",
            (article_id, verdict, note, created_at),
        ).lastrowid
        or 0
    )


def of_article(store: Store, article_id: int) -> list[dict]:
    """The article's verdicts, newest first: ``verdict``, ``note``, ``created_at`` (and ids)."""
    return store.query("SELECT * FROM feedback WHERE article_id = ? ORDER BY id DESC", (article_id,))


def latest(store: Store, article_ids: Iterable[int]) -> dict[int, str]:
    """The newest verdict on each of ``article_ids`` that has one."""
    ids = list(article_ids)
    if not ids:
        return {}
    return dict(
        store.execute(
            f"""
        SELECT article_id, verdict FROM feedback WHERE id IN (
            SELECT MAX(id) FROM feedback WHERE article_id IN ({marks(ids)}) GROUP BY article_id)""",
            ids,
        ).fetchall()
    )
