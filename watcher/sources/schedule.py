"""Sources: the configured feeds, mirrored into the ``feeds`` table, and which are due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from watcher import health
from watcher.config import FeedConfig
from watcher.store import feeds as feed_rows
from watcher.store.database import Store


def sync(store: Store, feeds: Sequence[FeedConfig], now: datetime) -> None:
    """Add new feeds (due at once) and refresh names, kinds, tags and pauses;
    feeds left out of the config stay in the database (their articles stay)
    but are not polled."""
    stamp = now.isoformat()
    with store.atomic():
        rows = {r["url"]: r for r in feed_rows.settings(store)}  # one query, not one per feed
        for feed in feeds:
            row = rows.get(feed.url)
            if row is None:
                feed_id = feed_rows.add(store, feed.url, feed.name, stamp)
                rows[feed.url] = {"id": feed_id, "name": feed.name}
            else:
                feed_id = row["id"]
                if row["name"] != feed.name:
                    feed_rows.rename(store, feed_id, feed.name)
            feed_rows.set_settings(
                store,
                feed_id,
                kind=feed.kind,
                tags=list(feed.tags),
                paused=not feed.enabled,
                stored=row if row is not None and "kind" in row else None,
            )


def due(
    store: Store, feeds: Sequence[FeedConfig], now: datetime, *, healthy_too: bool = False
) -> list[FeedConfig]:
    """Configured feeds whose next poll time has come (gone feeds never are).

    ``healthy_too`` (for ``watcher run --once``, where cron sets the pace)
    also takes feeds that are merely waiting for their interval; feeds that
    are backing off after errors or throttled by the server still wait."""
    return [feed for feed, _ in due_rows(store, feeds, now, healthy_too=healthy_too)]


def due_rows(
    store: Store, feeds: Sequence[FeedConfig], now: datetime, *, healthy_too: bool = False
) -> list[tuple[FeedConfig, dict]]:
    """:func:`due`'s feeds, each with its row (as :func:`row` gives it), read
    in one query: a pass over every due feed need not ask again per feed."""
    by_url = {f.url: f for f in feeds if f.enabled}  # a paused feed is never due
    return [
        (by_url[r["url"]], r)
        for r in feed_rows.due(store, now.isoformat(), healthy_too=healthy_too)
        if r["url"] in by_url
    ]


def waits(store: Store, feeds: Sequence[FeedConfig], now: datetime) -> dict[str, float | None]:
    """For each of ``feeds``: seconds until its stored ``next_due`` (0 when it
    is due or new; at most as long as any wait the feed's health can ask for),
    or None when the feed is gone. The daemon starts its monotonic schedule
    from these."""
    rows = {r["url"]: r for r in feed_rows.schedule(store)}
    found: dict[str, float | None] = {}
    for feed in feeds:
        r = rows.get(feed.url)
        if r is not None and r["gone"]:
            found[feed.url] = None
            continue
        wait = 0.0
        if r is not None and r["next_due"]:
            try:
                wait = (datetime.fromisoformat(r["next_due"]) - now).total_seconds()
            except (TypeError, ValueError):
                wait = 0.0
        longest = max(health.MAX_BACKOFF, health.MAX_RETRY_AFTER, feed.interval)
        found[feed.url] = min(max(0.0, wait), longest)
    return found


def row(store: Store, url: str) -> dict:
    """The feed's row (``sync`` put it there)."""
    found = feed_rows.get(store, url)
    if found is None:
        raise LookupError(f"feed {url} is not in the database; sources.sync adds it")
    return found
