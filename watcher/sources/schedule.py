"""Sources: the configured feeds, mirrored into the ``feeds`` table, and which are due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from watcher.config import FeedConfig
from watcher.store.database import Store


def sync(store: Store, feeds: Sequence[FeedConfig], now: datetime) -> None:
    """Add new feeds (due at once) and refresh names; feeds left out of the
    config stay in the database (their articles stay) but are not polled."""
    stamp = now.isoformat()
    with store.atomic() as db:
        for feed in feeds:
            row = store.query("SELECT id, name FROM feeds WHERE url = ?", (feed.url,))
            if not row:
                db["feeds"].insert({"url": feed.url, "name": feed.name, "next_due": stamp,
                                    "created_at": stamp, "consecutive_errors": 0, "gone": 0})
            elif row[0]["name"] != feed.name:
                db["feeds"].update(row[0]["id"], {"name": feed.name})


def due(store: Store, feeds: Sequence[FeedConfig], now: datetime, *,
        healthy_too: bool = False) -> list[FeedConfig]:
    """Configured feeds whose next poll time has come (gone feeds never are).

    ``healthy_too`` (for ``watcher run --once``, where cron sets the pace)
    also takes feeds that are merely waiting for their interval; feeds that
    are backing off after errors or throttled by the server still wait."""
    by_url = {f.url: f for f in feeds}
    rows = store.query(
        "SELECT url FROM feeds WHERE gone = 0 AND (next_due IS NULL OR next_due <= ? "
        "OR (? AND consecutive_errors = 0)) ORDER BY next_due", (now.isoformat(), healthy_too))
    return [by_url[r["url"]] for r in rows if r["url"] in by_url]


def row(store: Store, url: str) -> dict:
    return store.query("SELECT * FROM feeds WHERE url = ?", (url,))[0]
