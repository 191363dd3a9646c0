"""Feed entries: ``entries``, every entry ever seen, so that a known
(feed, guid) or canonical URL is never fetched or extracted again. An entry
keeps its row (``article_id`` NULL) when pruning deletes its article."""

from __future__ import annotations

import json
from collections.abc import Sequence

from watcher.store.database import Store, marks


def find(store: Store, feed_id: int, guid: str) -> dict | None:
    """The entry's row (with its ``updated`` time and ``summary_hash``), or None."""
    return store.one("SELECT * FROM entries WHERE feed_id = ? AND guid = ?", (feed_id, guid))


def find_many(store: Store, feed_id: int, guids: Sequence[str]) -> dict[str, dict]:
    """The rows of those of ``guids`` the feed has recorded, by guid (one query for a whole poll)."""
    found: dict[str, dict] = {}
    for start in range(0, len(guids), 500):
        chunk = list(dict.fromkeys(guids[start : start + 500]))
        for row in store.query(
            f"SELECT * FROM entries WHERE feed_id = ? AND guid IN ({marks(chunk)})", (feed_id, *chunk)
        ):
            found[row["guid"]] = row
    return found


def known_url(store: Store, canonical_url: str) -> tuple[int | None, bool]:
    """(id of the article stored under ``canonical_url`` or None, whether any
    entry had that URL), read in one statement so both come from one snapshot."""
    row = store.execute(
        "SELECT (SELECT id FROM articles WHERE canonical_url = :c), "
        "EXISTS (SELECT 1 FROM entries WHERE canonical_url = :c AND error IS NULL)",
        {"c": canonical_url},
    ).fetchone()
    return row[0], bool(row[1])


def known_urls(store: Store, canonical_urls: Sequence[str]) -> dict[str, tuple[int | None, bool]]:
    """:func:`known_url` of each of ``canonical_urls`` (by URL), read in one
    statement: one snapshot, one statement for a whole poll."""
    found: dict[str, tuple[int | None, bool]] = {}
    for start in range(0, len(canonical_urls), 500):
        chunk = list(dict.fromkeys(canonical_urls[start : start + 500]))
        for url, article_id, seen in store.execute(
            "SELECT c.value, (SELECT id FROM articles WHERE canonical_url = c.value), "
            "EXISTS (SELECT 1 FROM entries WHERE canonical_url = c.value AND error IS NULL) "
            "FROM json_each(?) c",
            (json.dumps(chunk),),
        ):
            found[url] = (article_id, bool(seen))
    return found


def add(
    store: Store,
    *,
    feed_id: int,
    guid: str,
    url: str | None,
    canonical_url: str,
    article_id: int | None,
    first_seen: str,
    updated: str | None,
    summary_hash: str | None,
) -> None:
    """Remember an entry (nothing happens when the feed already has this guid,
    unless that row records a failure: then it becomes the whole entry)."""
    store.execute(
        "INSERT INTO entries (feed_id, guid, url, canonical_url, article_id, first_seen, "
        "updated, summary_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feed_id, guid) DO UPDATE SET "
        "url = excluded.url, canonical_url = excluded.canonical_url, article_id = excluded.article_id, "
        "updated = excluded.updated, summary_hash = excluded.summary_hash, error = NULL "
        "WHERE entries.error IS NOT NULL",
        (feed_id, guid, url, canonical_url, article_id, first_seen, updated, summary_hash),
    )


def record_failure(
    store: Store,
    *,
    feed_id: int,
    guid: str,
    url: str | None,
    canonical_url: str,
    first_seen: str,
    error: str,
) -> int:
    """An entry whose processing failed: its row holds the error and how many
    times it failed (no article). Returns that count."""
    store.execute(
        "INSERT INTO entries (feed_id, guid, url, canonical_url, article_id, first_seen, error, failures) "
        "VALUES (?, ?, ?, ?, NULL, ?, ?, 1) ON CONFLICT (feed_id, guid) DO UPDATE SET "
        "error = excluded.error, failures = failures + 1",
        (feed_id, guid, url, canonical_url, first_seen, error),
    )
    return int(
        store.scalar("SELECT failures FROM entries WHERE feed_id = ? AND guid = ?", (feed_id, guid)) or 0
    )


def set_revision(store: Store, entry_id: int, *, updated: str | None, summary_hash: str | None) -> None:
    """What the entry's feed says now, to notice the next edit."""
    store.execute(
        "UPDATE entries SET updated = ?, summary_hash = ? WHERE id = ?", (updated, summary_hash, entry_id)
    )


def recent_guids(store: Store, feed_id: int, limit: int = 100) -> list[str]:
    """The guids of the feed's most recently recorded entries (a Telegram
    channel's newest stored post is among them: entries are stored oldest first)."""
    return [
        r[0]
        for r in store.execute(
            "SELECT guid FROM entries WHERE feed_id = ? ORDER BY id DESC LIMIT ?", (feed_id, limit)
        )
    ]
