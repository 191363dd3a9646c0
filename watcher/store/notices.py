"""Operator notices: ``notices``, one row per start or end of a condition's
episode (a feed failing, a channel failing, a rule gone silent, ...). A
condition is open while its newest row is a ``start``. What a condition is,
and when it starts or ends, is decided in :mod:`watcher.notify.operator`.
"""

from __future__ import annotations

from datetime import datetime, timezone

from watcher.store.database import Store

START, END = "start", "end"
MAX_TEXT = 4000


def add(
    store: Store, *, key: str, event: str, subject: str, title: str, body: str, severity: str, now: datetime
) -> int:
    """A notice row; returns its id. Call inside the caller's transaction."""
    return (
        store.execute(
            "INSERT INTO notices (key, event, subject, title, body, severity, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                event,
                subject[:MAX_TEXT],
                title[:MAX_TEXT],
                body[:MAX_TEXT],
                severity,
                now.astimezone(timezone.utc).isoformat(),
            ),
        ).lastrowid
        or 0
    )


def get(store: Store, notice_id: int) -> dict | None:
    return store.one("SELECT * FROM notices WHERE id = ?", (notice_id,))


def latest(store: Store) -> dict[str, dict]:
    """Key -> the newest notice of every condition (a ``start``: it is open)."""
    rows = store.query(
        "SELECT n.* FROM notices n JOIN (SELECT key, MAX(id) AS id FROM notices GROUP BY key) last "
        "ON last.id = n.id ORDER BY n.id"
    )
    return {r["key"]: r for r in rows}


def open_episodes(store: Store) -> dict[str, dict]:
    """Key -> the ``start`` row of every condition now open."""
    return {key: row for key, row in latest(store).items() if row["event"] == START}


def recent(store: Store, *, limit: int = 50) -> list[dict]:
    """The newest notices first."""
    return store.query("SELECT * FROM notices ORDER BY id DESC LIMIT ?", (limit,))
