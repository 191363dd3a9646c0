"""The alert outbox: rows in ``alerts``, one per (story, channel).

Life of a row: ``pending`` -> ``sending`` (claimed by the sender, in its own
transaction) -> ``sent``; a failed send goes back to ``pending`` with an
exponential, jittered backoff, and after ``max_attempts`` becomes ``dead``
(listed by ``watcher alerts``, revived by ``watcher alerts retry``). A crash
leaves ``sending`` rows, which :func:`recover` returns to ``pending`` at
start-up: an alert is never lost; it is sent twice only when the crash fell
between the service accepting it and the ``sent`` commit.

Digest channels' rows wait until the end of their period (``digest_every``:
``"1h"`` is every hour on the hour, ``"08:00"`` is daily at 08:00 UTC); the
sender claims all of a channel's due digest rows together and sends them as
one message. They stay rows of this table throughout, so a crash loses none.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone

from watcher.config import AlertsConfig, ChannelConfig, severity_rank
from watcher.duration import parse_duration
from watcher.store.database import immediate

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
STATUSES = (PENDING, SENDING, SENT, DEAD)
MAX_ERROR = 1000


# -- routing -------------------------------------------------------------------


def takes(channel: ChannelConfig, match) -> bool:
    """Does ``channel`` want an alert for ``match`` (a RuleMatch)?

    A rule that names the channel is always taken; otherwise the rule must be
    in the channel's ``rules`` ("*" = every rule) and at least as severe as
    its ``severity`` (when set)."""
    if channel.name in getattr(match, "channels", ()):
        return True
    listed = "*" in channel.rules or match.rule_id in channel.rules
    return listed and (channel.severity is None or severity_rank(match.severity) >= severity_rank(channel.severity))


def route(channels: Sequence[ChannelConfig], matches: Sequence) -> list[ChannelConfig]:
    return [c for c in channels if any(takes(c, m) for m in matches)]


# -- enqueueing (inside the caller's transaction) --------------------------------

def enqueue(db, *, story_id: int, article_id: int, matches: Sequence,
            channels: Sequence[ChannelConfig], now: datetime) -> int:
    """Write one outbox row per channel that takes ``matches``; returns how
    many rows were new. Call inside the transaction that stores the matches.

    The idempotency key is ``story:channel``; a later article of the same
    story (re-alerting for new rules) gets ``story:channel:article``."""
    added = 0
    for channel in route(channels, matches):
        due = digest_due(channel.digest_every, now) if channel.mode == "digest" else now
        for key in (f"{story_id}:{channel.name}", f"{story_id}:{channel.name}:{article_id}"):
            cursor = db.execute(
                "INSERT OR IGNORE INTO alerts (idempotency_key, story_id, article_id, channel, mode, "
                "status, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
                [key, story_id, article_id, channel.name, channel.mode, _iso(due), _iso(now)])
            if cursor.rowcount:
                added += 1
                break
            if _owner(db, key) == article_id:
                break       # this very article is already queued: nothing to do
    return added


def _owner(db, key: str) -> int | None:
    row = db.execute("SELECT article_id FROM alerts WHERE idempotency_key = ?", [key]).fetchone()
    return row[0] if row else None


def digest_due(every: str, now: datetime) -> datetime:
    """The end of the digest period that contains ``now`` (UTC)."""
    now = now.astimezone(timezone.utc)
    daily = re.fullmatch(r"(\d\d):(\d\d)", every.strip())
    if daily:
        at = now.replace(hour=int(daily[1]), minute=int(daily[2]), second=0, microsecond=0)
        return at if at > now else at + timedelta(days=1)
    period = parse_duration(every)
    ticks = math.floor(now.timestamp() / period) + 1
    return datetime.fromtimestamp(ticks * period, timezone.utc)


# -- the sender's side -----------------------------------------------------------

def recover(db, *, channel: str | None = None) -> int:
    """Rows left ``sending`` by a crash go back to ``pending``: at start-up, or
    for one channel after its worker broke off (nobody else sends for it)."""
    only, params = ("AND channel = ?", [channel]) if channel is not None else ("", [])
    with immediate(db):
        return db.execute("UPDATE alerts SET status = 'pending', digest_id = NULL "
                          f"WHERE status = 'sending' {only}", params).rowcount


def claim_immediate(db, now: datetime, *, channel: str | None = None, limit: int = 100) -> list[dict]:
    """Due immediate rows (of one channel, or all), marked ``sending`` in one transaction."""
    only = "AND channel = ?" if channel is not None else ""
    with immediate(db):
        rows = _rows(db.execute(
            "UPDATE alerts SET status = 'sending' WHERE id IN (SELECT id FROM alerts "
            f"WHERE status = 'pending' AND mode != 'digest' AND next_attempt_at <= ? {only} "
            "ORDER BY next_attempt_at, id LIMIT ?) RETURNING *",
            [_iso(now), *([channel] if channel is not None else []), limit]))
    return sorted(rows, key=lambda r: (r["next_attempt_at"], r["id"]))


def channels_with_rows(db) -> list[str]:
    """Channels that have unsent alerts."""
    return [r[0] for r in db.execute(
        "SELECT DISTINCT channel FROM alerts WHERE status IN ('pending', 'sending')").fetchall()]


def claim_digests(db, now: datetime, *, channel: str | None = None,
                  limit: int = 500) -> dict[str, list[dict]]:
    """Due digest rows per channel (of one channel, or all), each group marked
    ``sending`` with a shared ``digest_id`` (its smallest alert id), in one transaction."""
    groups: dict[str, list[dict]] = {}
    with immediate(db):
        channels = [r[0] for r in db.execute(
            "SELECT DISTINCT channel FROM alerts WHERE status = 'pending' AND mode = 'digest' "
            "AND next_attempt_at <= ?", [_iso(now)]).fetchall()]
        for name in [c for c in channels if channel is None or c == channel]:
            ids = [r[0] for r in db.execute(
                "SELECT id FROM alerts WHERE status = 'pending' AND mode = 'digest' AND channel = ? "
                "AND next_attempt_at <= ? ORDER BY id LIMIT ?", [name, _iso(now), limit]).fetchall()]
            marks = ",".join("?" * len(ids))
            groups[name] = sorted(_rows(db.execute(
                f"UPDATE alerts SET status = 'sending', digest_id = ? WHERE id IN ({marks}) RETURNING *",
                [ids[0], *ids])), key=lambda r: r["id"])
    return groups


def mark_sent(db, ids: Iterable[int], now: datetime) -> None:
    ids = list(ids)
    with immediate(db):
        db.execute(f"UPDATE alerts SET status = 'sent', sent_at = ?, attempts = attempts + 1, "
                   f"last_error = NULL WHERE id IN ({','.join('?' * len(ids))})", [_iso(now), *ids])


def release(db, ids: Iterable[int]) -> None:
    """Claimed rows that were not tried (shutting down) go back untouched."""
    ids = list(ids)
    if ids:
        with immediate(db):
            db.execute(f"UPDATE alerts SET status = 'pending', digest_id = NULL "
                       f"WHERE status = 'sending' AND id IN ({','.join('?' * len(ids))})", ids)


def backoff(attempts: int, config: AlertsConfig, rng: random.Random) -> float:
    """Seconds before the next try after ``attempts`` failures: doubling from
    ``config.backoff``, capped, with ±20% jitter so channels do not retry in step."""
    base = min(config.max_backoff, config.backoff * 2 ** max(0, attempts - 1))
    return min(config.max_backoff, base * rng.uniform(0.8, 1.2))


def mark_failed(db, ids: Iterable[int], error: str, now: datetime, config: AlertsConfig,
                rng: random.Random) -> list[str]:
    """Record a failed try of ``ids`` (one digest, or one alert); returns each
    row's new status (``pending`` with a later due time, or ``dead``)."""
    ids = list(ids)
    error = error[:MAX_ERROR]
    with immediate(db):
        attempts = max(r[0] for r in db.execute(
            f"SELECT attempts FROM alerts WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall()) + 1
        due = now + timedelta(seconds=backoff(attempts, config, rng))
        status = DEAD if attempts >= config.max_attempts else PENDING
        db.execute(f"UPDATE alerts SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, "
                   f"digest_id = NULL WHERE id IN ({','.join('?' * len(ids))})",
                   [status, attempts, _iso(due), error, *ids])
    return [status] * len(ids)


def kill(db, ids: Iterable[int], error: str) -> None:
    """Rows that cannot be sent at all (their channel is gone) become dead now."""
    ids = list(ids)
    with immediate(db):
        db.execute(f"UPDATE alerts SET status = 'dead', last_error = ?, digest_id = NULL "
                   f"WHERE id IN ({','.join('?' * len(ids))})", [error[:MAX_ERROR], *ids])


# -- the user's side ---------------------------------------------------------------

def retry(db, now: datetime, *, ids: Sequence[int] = (), dead: bool = False,
          every: bool = False) -> int:
    """Make alerts due now with a fresh set of attempts: ``ids``, every dead
    one, or (``every``) every unsent one. Sent and in-flight rows are left alone."""
    where, params = [], []
    if ids:
        where.append(f"id IN ({','.join('?' * len(ids))})")
        params += list(ids)
    if dead:
        where.append("status = 'dead'")
    if every:
        where.append("status IN ('pending', 'dead')")
    if not where:
        return 0
    with immediate(db):
        return db.execute(
            f"UPDATE alerts SET status = 'pending', attempts = 0, next_attempt_at = ?, digest_id = NULL "
            f"WHERE status IN ('pending', 'dead') AND ({' OR '.join(where)})", [_iso(now), *params]).rowcount


def listing(db, *, status: str | None = None, limit: int = 50) -> list[dict]:
    """Outbox rows, newest first, with the article headline and feed."""
    where = "WHERE al.status = ?" if status else ""
    return _rows(db.execute(
        "SELECT al.id, al.status, al.channel, al.mode, al.attempts, al.next_attempt_at, al.sent_at, "
        "al.created_at, al.last_error, al.story_id, al.article_id, a.title AS headline, "
        "f.name AS feed FROM alerts al LEFT JOIN articles a ON a.id = al.article_id "
        f"LEFT JOIN feeds f ON f.id = a.feed_id {where} ORDER BY al.id DESC LIMIT ?",
        ([status] if status else []) + [limit]))


def counts(db) -> dict[str, int]:
    found = dict(db.execute("SELECT status, count(*) FROM alerts GROUP BY status").fetchall())
    return {s: found.get(s, 0) for s in STATUSES}


def article_alerts(db, article_id: int) -> list[dict]:
    """For ``watcher export``: the channels an article alerted and how that went."""
    return _rows(db.execute(
        "SELECT channel, status, attempts, sent_at, last_error FROM alerts "
        "WHERE article_id = ? ORDER BY id", [article_id]))


def _rows(cursor) -> list[dict]:
    names = [d[0] for d in cursor.description or ()]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _iso(stamp: datetime) -> str:
    return stamp.astimezone(timezone.utc).isoformat()
