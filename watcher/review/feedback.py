"""Feedback: a person's verdict on a matched article (relevant or irrelevant).

Every verdict is kept (a person may change their mind); the newest one per
article is the one that counts in ``watcher rules stats``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from watcher.errors import FeedbackError
from watcher.store import articles
from watcher.store import feedback as verdicts
from watcher.store.database import Store

VERDICTS = ("relevant", "irrelevant")
MAX_NOTE = 2000


@dataclass(frozen=True)
class Feedback:
    id: int
    article_id: int
    verdict: str
    note: str | None
    created_at: str


def record(
    store: Store, article_id: int, verdict: str, *, note: str | None = None, now: datetime
) -> Feedback:
    """Store a verdict on article ``article_id``."""
    if verdict not in VERDICTS:
        raise FeedbackError(f"verdict must be {' or '.join(VERDICTS)}, got {verdict!r}")
    note = (note or "").strip()[:MAX_NOTE] or None
    if not articles.exists(store, article_id):
        raise FeedbackError(f"there is no article {article_id}; `watcher log` lists article ids")
    stamp = now.isoformat()
    with store.atomic():
        row_id = verdicts.add(store, article_id, verdict, note, stamp)
    return Feedback(row_id, article_id, verdict, note, stamp)
