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

This module decides what goes where and when (routing, idempotency keys,
digest periods, the retry schedule); :mod:`watcher.store.alerts` reads and
writes the rows (claiming, marking sent, releasing, listing).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone

from watcher.config import AlertsConfig, ChannelConfig, severity_rank
from watcher.duration import parse_duration
from watcher.store import alerts
from watcher.store.alerts import DEAD, PENDING, SENDING, SENT, STATUSES  # noqa: F401 (the statuses)
from watcher.store.database import Store

# -- routing -------------------------------------------------------------------


def takes(channel: ChannelConfig, match) -> bool:
    """Does ``channel`` want an alert for ``match`` (a RuleMatch)?

    A rule that names the channel is always taken; otherwise the rule must be
    in the channel's ``rules`` ("*" = every rule) and at least as severe as
    its ``severity`` (when set)."""
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
        due = digest_due(channel.digest_every, now) if channel.mode == "digest" else now
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
            ):
                added += 1
                break
            if alerts.article_of(store, key) == article_id:
                break  # this very article is already queued: nothing to do
    return added


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


def mark_failed(
    store: Store, ids: Iterable[int], error: str, now: datetime, config: AlertsConfig, rng: random.Random
) -> list[str]:
    """Record a failed try of ``ids`` (one digest, or one alert); returns each
    row's new status (``pending`` with a later due time, or ``dead``)."""
    ids = list(ids)
    with store.atomic():
        attempts = alerts.attempts(store, ids) + 1
        due = now + timedelta(seconds=backoff(attempts, config, rng))
        status = DEAD if attempts >= config.max_attempts else PENDING
        alerts.reschedule(store, ids, status=status, attempts=attempts, due=due, error=error)
    return [status] * len(ids)
