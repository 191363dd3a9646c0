"""The alert outbox rows: ``alerts``, one per (story, channel) or (operator
notice, channel), keyed by an idempotency key, with a status: ``pending`` ->
``sending`` -> ``sent``, or back to ``pending`` after a failed try, or
``dead``. What is routed where, and the retry schedule, are decided in
:mod:`watcher.notify.outbox`; this module only reads and writes the rows,
each change of status in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from watcher.store.database import Store, marks

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
STATUSES = (PENDING, SENDING, SENT, DEAD)
MAX_ERROR = 1000


def _iso(stamp: datetime) -> str:
    return stamp.astimezone(timezone.utc).isoformat()


def add(
    store: Store,
    *,
    key: str,
    story_id: int | None,
    article_id: int | None,
    channel: str,
    mode: str,
    due: datetime,
    now: datetime,
    severity: str | None = None,
    notice_id: int | None = None,
) -> bool:
    """A pending alert (or, with ``notice_id``, operator notice) under ``key``;
    False (and nothing written) when the key exists."""
    return bool(
        store.execute(
            "INSERT OR IGNORE INTO alerts (idempotency_key, story_id, article_id, notice_id, channel, "
            "mode, severity, status, attempts, next_attempt_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
            (key, story_id, article_id, notice_id, channel, mode, severity, _iso(due), _iso(now)),
        ).rowcount
    )


def story_alerted(store: Store, story_id: int) -> bool:
    """Whether any alert was queued for the story."""
    return store.scalar("SELECT 1 FROM alerts WHERE story_id = ? LIMIT 1", (story_id,)) is not None


def spread_alert(store: Store, story_id: int, article_id: int) -> bool:
    """Whether an alert about the story spreading points at this article."""
    return (
        store.scalar(
            "SELECT 1 FROM alerts WHERE story_id = ? AND article_id = ? AND idempotency_key LIKE '%:spread'",
            (story_id, article_id),
        )
        is not None
    )


def article_of(store: Store, key: str) -> int | None:
    """The article whose alert holds ``key``."""
    return store.scalar("SELECT article_id FROM alerts WHERE idempotency_key = ?", (key,))


# -- the sender's side ---------------------------------------------------------------


def recover(store: Store, *, channel: str | None = None) -> int:
    """Rows left ``sending`` (of one channel, or all) go back to ``pending``; returns how many."""
    only, params = ("AND channel = ?", [channel]) if channel is not None else ("", [])
    with store.atomic():
        return store.execute(
            f"UPDATE alerts SET status = 'pending', digest_id = NULL WHERE status = 'sending' {only}", params
        ).rowcount


def claim_immediate(
    store: Store, now: datetime, *, channel: str | None = None, limit: int = 100
) -> list[dict]:
    """Due immediate rows (of one channel, or all), oldest due first, marked ``sending``."""
    only = "AND channel = ?" if channel is not None else ""
    with store.atomic():
        rows = store.query(
            "UPDATE alerts SET status = 'sending' WHERE id IN (SELECT id FROM alerts "
            f"WHERE status = 'pending' AND mode != 'digest' AND next_attempt_at <= ? {only} "
            "ORDER BY next_attempt_at, id LIMIT ?) RETURNING *",
            [_iso(now), *([channel] if channel is not None else []), limit],
        )
    return sorted(rows, key=lambda r: (r["next_attempt_at"], r["id"]))


def claim_digests(
    store: Store, now: datetime, *, channel: str | None = None, limit: int = 500
) -> dict[str, list[dict]]:
    """Due digest rows per channel (of one channel, or all), each group marked
    ``sending`` with a shared ``digest_id`` (its smallest alert id)."""
    groups: dict[str, list[dict]] = {}
    with store.atomic():
        channels = [
            r[0]
            for r in store.execute(
                "SELECT DISTINCT channel FROM alerts WHERE status = 'pending' AND mode = 'digest' "
                "AND next_attempt_at <= ?",
                [_iso(now)],
            ).fetchall()
        ]
        for name in [c for c in channels if channel is None or c == channel]:
            ids = [
                r[0]
                for r in store.execute(
                    "SELECT id FROM alerts WHERE status = 'pending' AND mode = 'digest' AND channel = ? "
                    "AND next_attempt_at <= ? ORDER BY id LIMIT ?",
                    [name, _iso(now), limit],
                ).fetchall()
            ]
            groups[name] = sorted(
                store.query(
                    f"UPDATE alerts SET status = 'sending', digest_id = ? WHERE id IN ({marks(ids)}) RETURNING *",
                    [ids[0], *ids],
                ),
                key=lambda r: r["id"],
            )
    return groups


def candidates(store: Store, channel: str, now: datetime, *, tried_too: bool = False) -> list[dict]:
    """The channel's pending rows that are due at ``now`` (``tried_too``: and
    those waiting only for their own retry time after a failed try), oldest due
    first: what the sender plans its next messages from. Nothing is claimed."""
    return store.query(
        "SELECT id, mode, severity, attempts, next_attempt_at, created_at, notice_id FROM alerts "
        "WHERE channel = ? AND status = 'pending' AND (next_attempt_at <= ? OR (? AND attempts > 0)) "
        "ORDER BY next_attempt_at, id LIMIT 5000",
        (channel, _iso(now), tried_too),
    )


def claim(store: Store, ids: Sequence[int], *, together: bool = False) -> list[dict]:
    """Mark those of ``ids`` still pending ``sending`` and return their rows (by
    id). ``together``: they go in one message, whose ``digest_id`` is the
    smallest id claimed."""
    ids = list(ids)
    if not ids:
        return []
    with store.atomic():
        rows = store.query(
            f"UPDATE alerts SET status = 'sending', digest_id = NULL "
            f"WHERE status = 'pending' AND id IN ({marks(ids)}) RETURNING *",
            ids,
        )
        if together and rows:
            first = min(r["id"] for r in rows)
            store.execute(
                f"UPDATE alerts SET digest_id = ? WHERE id IN ({marks(rows)})",
                [first, *(r["id"] for r in rows)],
            )
            for row in rows:
                row["digest_id"] = first
    return sorted(rows, key=lambda r: r["id"])


def messages_since(store: Store, channel: str, since: datetime) -> list[str]:
    """When each message sent to ``channel`` after ``since`` went out (a digest
    counts once), oldest first: what the channel's hourly cap counts."""
    return [
        r[0]
        for r in store.execute(
            "SELECT MIN(sent_at) AS at FROM alerts WHERE channel = ? AND status = 'sent' AND sent_at > ? "
            "GROUP BY COALESCE(digest_id, id) ORDER BY at",
            (channel, _iso(since)),
        ).fetchall()
    ]


def due_again(store: Store, channel: str, *, tried_since: datetime, now: datetime) -> int:
    """After a channel's outage: its pending rows that failed during it (tried
    at or after ``tried_since``) are due ``now`` instead of at their own retry
    time (their failures were the channel's). Returns how many."""
    with store.atomic():
        return store.execute(
            "UPDATE alerts SET next_attempt_at = ? WHERE channel = ? AND status = 'pending' "
            "AND tried_at >= ? AND next_attempt_at > ?",
            (_iso(now), channel, _iso(tried_since), _iso(now)),
        ).rowcount


def channels_with_rows(store: Store) -> list[str]:
    """Channels that have unsent alerts."""
    return [
        r[0]
        for r in store.execute(
            "SELECT DISTINCT channel FROM alerts WHERE status IN ('pending', 'sending')"
        ).fetchall()
    ]


def pending_ids(store: Store, channel: str) -> list[int]:
    return [
        r[0]
        for r in store.execute("SELECT id FROM alerts WHERE channel = ? AND status = 'pending'", (channel,))
    ]


def mark_sent(store: Store, ids: Iterable[int], now: datetime) -> None:
    ids = list(ids)
    with store.atomic():
        store.execute(
            f"UPDATE alerts SET status = 'sent', sent_at = ?, tried_at = ?, attempts = attempts + 1, "
            f"last_error = NULL WHERE id IN ({marks(ids)})",
            [_iso(now), _iso(now), *ids],
        )


def release(store: Store, ids: Iterable[int]) -> None:
    """Claimed rows that were not tried go back to ``pending`` untouched."""
    ids = list(ids)
    if ids:
        with store.atomic():
            store.execute(
                f"UPDATE alerts SET status = 'pending', digest_id = NULL "
                f"WHERE status = 'sending' AND id IN ({marks(ids)})",
                ids,
            )


def attempts(store: Store, ids: Sequence[int]) -> int:
    """The most tries any of ``ids`` has had."""
    return max(
        r[0]
        for r in store.execute(
            f"SELECT attempts FROM alerts WHERE id IN ({marks(ids)})", list(ids)
        ).fetchall()
    )


def oldest(store: Store, ids: Sequence[int]) -> str:
    """When the oldest of ``ids`` was queued."""
    return store.scalar(f"SELECT MIN(created_at) FROM alerts WHERE id IN ({marks(ids)})", list(ids))


def reschedule(
    store: Store,
    ids: Sequence[int],
    *,
    status: str,
    attempts: int,
    due: datetime,
    error: str,
    tried: datetime | None = None,
) -> None:
    """After a failed try (at ``tried``): ``pending`` again at ``due``, or ``dead``."""
    store.execute(
        f"UPDATE alerts SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, "
        f"digest_id = NULL, tried_at = COALESCE(?, tried_at) WHERE id IN ({marks(ids)})",
        [status, attempts, _iso(due), error[:MAX_ERROR], _iso(tried) if tried else None, *ids],
    )


def kill(store: Store, ids: Iterable[int], error: str) -> None:
    """Rows that cannot be sent at all become ``dead`` now."""
    ids = list(ids)
    with store.atomic():
        store.execute(
            f"UPDATE alerts SET status = 'dead', last_error = ?, digest_id = NULL WHERE id IN ({marks(ids)})",
            [error[:MAX_ERROR], *ids],
        )


# -- the user's side -------------------------------------------------------------------


def retry(
    store: Store, now: datetime, *, ids: Sequence[int] = (), dead: bool = False, every: bool = False
) -> int:
    """Make alerts due now with a fresh set of attempts: ``ids``, every dead
    one, or (``every``) every unsent one. Sent and in-flight rows are left alone."""
    where: list[str] = []
    params: list = []
    if ids:
        where.append(f"id IN ({marks(ids)})")
        params += list(ids)
    if dead:
        where.append("status = 'dead'")
    if every:
        where.append("status IN ('pending', 'dead')")
    if not where:
        return 0
    with store.atomic():
        return store.execute(
            f"UPDATE alerts SET status = 'pending', attempts = 0, next_attempt_at = ?, digest_id = NULL "
            f"WHERE status IN ('pending', 'dead') AND ({' OR '.join(where)})",
            [_iso(now), *params],
        ).rowcount


def statuses(store: Store, ids: Sequence[int]) -> dict[int, str]:
    """Alert id -> status, for those of ``ids`` that exist."""
    return dict(
        store.execute(f"SELECT id, status FROM alerts WHERE id IN ({marks(ids)})", list(ids)).fetchall()
    )


def listing(store: Store, *, status: str | None = None, limit: int = 50) -> list[dict]:
    """Outbox rows, newest first, with the article headline and feed."""
    where = "WHERE al.status = ?" if status else ""
    return store.query(
        "SELECT al.id, al.status, al.channel, al.mode, al.attempts, al.next_attempt_at, al.sent_at, "
        "al.created_at, al.last_error, al.story_id, al.article_id, al.notice_id, "
        "COALESCE(a.title, n.title) AS headline, "
        "CASE WHEN al.notice_id IS NOT NULL THEN '(operator notice)' ELSE f.name END AS feed "
        "FROM alerts al LEFT JOIN articles a ON a.id = al.article_id "
        "LEFT JOIN notices n ON n.id = al.notice_id "
        f"LEFT JOIN feeds f ON f.id = a.feed_id {where} ORDER BY al.id DESC LIMIT ?",
        ([status] if status else []) + [limit],
    )


def with_titles(
    store: Store,
    *,
    story_id: int | None = None,
    article_id: int | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[dict]:
    """Whole rows plus the article's ``title``, newest first: of one story
    (else of one article), of one status, or all."""
    clauses: list[str] = []
    params: dict = {"limit": limit}
    if story_id is not None:
        clauses.append("al.story_id = :story")
        params["story"] = story_id
    elif article_id is not None:
        clauses.append("al.article_id = :article")
        params["article"] = article_id
    if status:
        clauses.append("al.status = :status")
        params["status"] = status
    return store.query(
        f"""
        SELECT al.*, COALESCE(a.title, n.title) AS title FROM alerts al
        LEFT JOIN articles a ON a.id = al.article_id LEFT JOIN notices n ON n.id = al.notice_id
        WHERE {" AND ".join(clauses) or "1"} ORDER BY al.id DESC LIMIT :limit""",
        params,
    )


def counts(store: Store) -> dict[str, int]:
    """How many alerts are in each status (every status, zeros included)."""
    found = dict(store.execute("SELECT status, count(*) FROM alerts GROUP BY status").fetchall())
    return {s: found.get(s, 0) for s in STATUSES}


def by_status(store: Store) -> list[tuple[str, int]]:
    """(status, count) of the statuses that have alerts, by status name."""
    return store.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status ORDER BY status").fetchall()


def count_pending(store: Store) -> int:
    return store.scalar("SELECT COUNT(*) FROM alerts WHERE status = 'pending'")


def of_article(store: Store, article_id: int) -> list[dict]:
    """``channel``, ``status``, ``attempts``, ``sent_at``, ``last_error`` of the
    article's own alerts, oldest first (for ``watcher export``)."""
    return store.query(
        "SELECT channel, status, attempts, last_error, sent_at FROM alerts WHERE article_id = ? ORDER BY id",
        (article_id,),
    )


def by_channel(store: Store) -> dict[str, dict[str, int]]:
    """Per channel, how many alerts are in each status (every status, zeros included)."""
    found: dict[str, dict[str, int]] = {}
    for channel, status, n in store.execute(
        "SELECT channel, status, COUNT(*) FROM alerts GROUP BY channel, status ORDER BY channel"
    ).fetchall():
        found.setdefault(channel, dict.fromkeys(STATUSES, 0))[status] = n
    return found


def oldest_pending(store: Store) -> str | None:
    """When the oldest alert still waiting to be sent was queued."""
    return store.scalar("SELECT MIN(created_at) FROM alerts WHERE status IN ('pending', 'sending')")
