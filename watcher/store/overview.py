"""The whole database at a glance (``watcher status``, the feeds page): its
size, and how many rows of each kind it holds."""

from __future__ import annotations

import os

from watcher.store.database import Store

COUNTS = (
    ("feeds", "SELECT COUNT(*) FROM feeds"),
    ("entries seen", "SELECT COUNT(*) FROM entries"),
    ("articles", "SELECT COUNT(*) FROM articles"),
    ("articles matched", "SELECT COUNT(*) FROM articles WHERE matched = 1"),
    ("stories", "SELECT COUNT(*) FROM stories"),
    ("matches", "SELECT COUNT(*) FROM matches"),
    ("feedback", "SELECT COUNT(*) FROM feedback"),
)


def counts(store: Store) -> tuple[tuple[str, int], ...]:
    """(what, how many) in display order."""
    return tuple((name, store.scalar(sql)) for name, sql in COUNTS)


def size_bytes(store: Store) -> int:
    """The database file plus its write-ahead log (pages in use for ``:memory:``)."""
    if store.path != ":memory:" and os.path.exists(store.path):
        return sum(os.path.getsize(p) for p in (store.path, store.path + "-wal") if os.path.exists(p))
    return store.scalar("PRAGMA page_count") * store.scalar("PRAGMA page_size")
