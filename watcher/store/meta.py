"""Facts about the database itself (``meta``: key, value), e.g. the version of
the text folding its fingerprints and search index were made with, and the
daemon's heartbeat."""

from __future__ import annotations

import sqlite3

from watcher.errors import StoreError
from watcher.store.database import Store

HEARTBEAT = "daemon_heartbeat"  # when the daemon's scheduler loop last ran (ISO 8601)


def get(store: Store, key: str) -> str | None:
    """The value, or None; StoreError when the database cannot be read (not a
    watcher database, locked past the busy timeout, ...)."""
    try:
        value = store.scalar("SELECT value FROM meta WHERE key = ?", (key,))
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read {key} from {store.path}: {exc}") from None
    return None if value is None else str(value)


def put(store: Store, key: str, value: str) -> None:
    try:
        store.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot write {key} to {store.path}: {exc}") from None
