"""The alert outbox: rows in ``alerts``, one per (story, channel), or per
(operator notice, ops channel).

Life of a row: ``pending`` -> ``sending`` (claimed by the sender, in its own
transaction) -> ``sent``; a failed send goes back to ``pending`` with an
exponential, jittered backoff. A row goes ``dead`` (listed by ``watcher
alerts``, revived by ``watcher alerts retry``) only when it was itself tried
``max_attempts`` times AND ``give_up_after`` (48 h) has passed since it was
queued, so an ordinary outage kills nothing. A crash leaves ``sending`` rows,
which :func:`recover` returns to ``pending`` at start-up: an alert is never
lost; it is sent twice only when the crash fell between the service
accepting it and the ``sent`` commit.

Each channel has a circuit breaker (``channel_health``): the first failed
try opens it; while open, the channel's other alerts wait without spending
an attempt, and one message at a time probes the channel, at a doubling
interval capped at :data:`MAX_PROBE_INTERVAL`. The first probe that gets
through closes it, and the alerts that failed during the outage are due at
once (their failures were the channel's, not theirs).

Calm channels: ``quiet_hours`` (in the channel's ``timezone``) hold every
alert but ``critical`` ones; when they end, what waited goes out as one
digest message. ``max_per_hour`` caps the messages per hour; once only one
message of the hour is left, everything due is folded into it, and when
none is left, alerts wait for the next one. Nothing is dropped.

Digest channels' rows wait until the end of their period (``digest_every``:
``"1h"`` is every hour on the hour, ``"08:00"`` is daily at 08:00 UTC); the
sender claims all of a channel's due digest rows together and sends them as
one message. They stay rows of this table throughout, so a crash loses none.

This module decides what goes where and when (routing, idempotency keys,
digest periods, the retry schedule); :mod:`watcher.store.alerts` reads and
writes the rows (claiming, marking sent, releasing, listing).
"""

from __future__ import annotations

import math
import random
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from watcher.config import AlertsConfig, ChannelConfig, severity_rank
from watcher.duration import parse_duration
from watcher.store import alerts
from watcher.store.alerts import DEAD, PENDING, SENDING, SENT, STATUSES  # noqa: F401 (the statuses)
from watcher.store.database import Store

# -- routing -------------------------------------------------------------------


MAX_PROBE_INTERVAL = 600.0  # seconds: a failing channel is tried at least this often
CRITICAL = "critical"
HOUR = timedelta(hours=1)


def takes(channel: ChannelConfig, match) -> bool:
    """Does ``channel`` want an alert for ``match`` (a RuleMatch)?

    A rule that names the channel is always taken; otherwise the rule must be
    in the channel's ``rules`` ("*" = every rule) and at least as severe as
    its ``severity`` (when set). An ops channel has no rules unless given."""
    if channel.name in getattr(match, "channels", ()):
        return True
    listed = "*" in channel.rules or match.rule_id in channel.rules
    return listed and (
        channel.severity is None or severity_rank(match.severity) >= severity_rank(channel.severity)
    )


def route(
    channels: Sequence[ChannelConfig], matches: Sequence, feed_tags: Sequence[str] = ()
) -> list[ChannelConfig]:
    """The channels that take ``matches``; a channel with ``feed_tags`` only
    those of an article from a feed carrying one of its tags."""
    return [
        c
        for c in channels
        if any(takes(c, m) for m in matches)
        and (not getattr(c, "feed_tags", ()) or set(c.feed_tags) & set(feed_tags))
    ]


# -- enqueueing (inside the caller's transaction) --------------------------------


def enqueue(
    store: Store,
    *,
    story_id: int,
    article_id: int,
    matches: Sequence,
    channels: Sequence[ChannelConfig],
    now: datetime,
    feed_tags: Sequence[str] = (),
) -> int:
    """Write one outbox row per channel that takes ``matches``; returns how
    many rows were new. Call inside the transaction that stores the matches.

    The idempotency key is ``story:channel``; a later article of the same
    story (re-alerting for new rules) gets ``story:channel:article``."""
    added = 0
    for channel in route(channels, matches, feed_tags):
        due = due_at(channel, now)
        severity = max((m.severity for m in matches if takes(channel, m)), key=severity_rank, default=None)
        for key in (f"{story_id}:{channel.name}", f"{story_id}:{channel.name}:{article_id}"):
            if alerts.add(
                store,
                key=key,
                story_id=story_id,
                article_id=article_id,
                channel=channel.name,
                mode=channel.mode,
                due=due,
                now=now,
                severity=severity,
            ):
                added += 1
                break
            if alerts.article_of(store, key) == article_id:
                break  # this very article is already queued: nothing to do
    return added


def due_at(channel: ChannelConfig, now: datetime) -> datetime:
    """When an alert queued at ``now`` for ``channel`` is due: at once, or at
    the end of the digest period of a digest channel."""
    return digest_due(channel.digest_every, now) if channel.mode == "digest" else now


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


# -- after a failed send -----------------------------------------------------------


def backoff(attempts: int, config: AlertsConfig, rng: random.Random) -> float:
    """Seconds before the next try after ``attempts`` failures: doubling from
    ``config.backoff``, capped, with ±20% jitter so channels do not retry in step."""
    base = min(config.max_backoff, config.backoff * 2 ** max(0, attempts - 1))
    return min(config.max_backoff, base * rng.uniform(0.8, 1.2))


def probe_delay(failures: int, config: AlertsConfig, rng: random.Random) -> float:
    """Seconds before a failing channel is tried again after ``failures`` failed
    tries in a row: the alert backoff, capped at :data:`MAX_PROBE_INTERVAL`."""
    return min(MAX_PROBE_INTERVAL, backoff(failures, config, rng))


def mark_failed(
    store: Store, ids: Iterable[int], error: str, now: datetime, config: AlertsConfig, rng: random.Random
) -> list[str]:
    """Record a failed try of ``ids`` (one message: one alert, or all those it
    held); returns each row's new status: ``pending`` with a later due time,
    or ``dead`` once tried ``max_attempts`` times AND queued ``give_up_after`` ago."""
    ids = list(ids)
    with store.atomic():
        attempts = alerts.attempts(store, ids) + 1
        due = now + timedelta(seconds=backoff(attempts, config, rng))
        queued = datetime.fromisoformat(alerts.oldest(store, ids))
        spent = now - queued >= timedelta(seconds=config.give_up_after)
        status = DEAD if attempts >= config.max_attempts and spent else PENDING
        alerts.reschedule(store, ids, status=status, attempts=attempts, due=due, error=error, tried=now)
    return [status] * len(ids)


# -- what goes out in the next messages --------------------------------------------


@dataclass(frozen=True)
class Batch:
    """One message: one alert, or (``together``) every row it lists."""

    ids: tuple[int, ...]
    together: bool = False
    note: str = ""  # why alerts were folded into one message


def quiet_window(channel: ChannelConfig, now: datetime) -> tuple[datetime, datetime] | None:
    """The channel's quiet period under way at ``now``, else the last one that
    ended (start, end, both aware); None without quiet hours."""
    if not channel.quiet_hours:
        return None
    zone = zoneinfo.ZoneInfo(channel.timezone)
    start_at, end_at = (time.fromisoformat(t) for t in channel.quiet_hours)
    today = now.astimezone(zone).date()
    windows = []
    for offset in (-2, -1, 0):
        day = today + timedelta(days=offset)
        start = datetime.combine(day, start_at, tzinfo=zone)
        end_day = day if end_at > start_at else day + timedelta(days=1)
        windows.append((start, datetime.combine(end_day, end_at, tzinfo=zone)))
    started = [w for w in windows if w[0] <= now]
    return max(started) if started else None


def plan(
    rows: Sequence[Mapping],
    channel: ChannelConfig,
    now: datetime,
    *,
    sent_last_hour: int = 0,
    probing: bool = False,
    limit: int = 50,
) -> list[Batch]:
    """The next messages for ``channel`` from its candidate ``rows``
    (:func:`watcher.store.alerts.candidates`), in sending order.

    Critical alerts go one by one whatever the hour. Otherwise nothing goes
    during quiet hours; after them, the alerts that waited are one message.
    Notices due together are one message, as are the rows of a digest. When
    ``max_per_hour`` leaves room for fewer messages than are due, the last
    message of the hour carries all the rest. ``probing``: only the first
    message, to try a failing channel."""
    stamp = now.astimezone(timezone.utc).isoformat()
    due = [r for r in rows if r["next_attempt_at"] <= stamp or (probing and r["attempts"] > 0)]
    critical = [r for r in due if r["severity"] == CRITICAL and r["mode"] == "immediate"]
    window = quiet_window(channel, now)
    quiet = window is not None and now < window[1]
    urgent = {r["id"] for r in critical}
    rest = [] if quiet else [r for r in due if r["id"] not in urgent]
    batches = [Batch((r["id"],)) for r in critical]
    notices = [r["id"] for r in rest if r["mode"] == "notice"]
    digest = [r["id"] for r in rest if r["mode"] == "digest"]
    singles = [r for r in rest if r["mode"] not in ("notice", "digest")]
    if probing:
        singles.sort(key=lambda r: (r["attempts"], r["next_attempt_at"], r["id"]))
    held = []
    if window is not None and not quiet:
        start, end = (t.astimezone(timezone.utc).isoformat() for t in window)
        held = [r["id"] for r in singles if start <= r["next_attempt_at"] < end]
    regular = []
    if notices and channel.format == "json":  # a program gets one object per notice
        regular += [Batch((i,)) for i in notices]
    elif notices:
        regular.append(Batch(tuple(notices), together=True))
    if digest:
        regular.append(Batch(tuple(digest), together=True))
    if len(held) > 1:
        regular.append(Batch(tuple(held), together=True, note="held during quiet hours"))
        singles = [r for r in singles if r["id"] not in held]
    regular += [Batch((r["id"],)) for r in singles[:limit]]
    if channel.max_per_hour is not None:
        left = channel.max_per_hour - sent_last_hour - len(batches)
        if len(regular) > left:
            kept, over = regular[: max(0, left - 1)], regular[max(0, left - 1) :]
            regular = kept
            if left > 0:
                ids = tuple(i for b in over for i in b.ids)
                regular.append(
                    Batch(
                        ids,
                        together=True,
                        note=f"over this channel's {channel.max_per_hour} messages an hour",
                    )
                )
    batches += regular
    return batches[:1] if probing else batches
