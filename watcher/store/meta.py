"""Facts about the database itself (``meta``: key, value), e.g. the version of
the text folding its fingerprints and search index were made with."""

from __future__ import annotations

from watcher.store.database import Store


def get(store: Store, key: str) -> str | None:
    value = store.scalar("SELECT value FROM meta WHERE key = ?", (key,))
    return None if value is None else str(value)


def put(store: Store, key: str, value: str) -> None:
    store.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
