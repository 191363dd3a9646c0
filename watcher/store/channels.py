"""Each channel's circuit breaker: ``channel_health``, one row per channel
that has ever failed. Whether to open, probe or close it is decided in
:mod:`watcher.notify.outbox`; this module reads and writes the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from watcher.store.database import Store

MAX_ERROR = 1000


def _iso(stamp: datetime) -> str:
    return stamp.astimezone(timezone.utc).isoformat()


@dataclass(frozen=True)
class ChannelHealth:
    channel: str
    failing_since: str | None = None  # None: closed, the last try worked
    failures: int = 0  # consecutive failed tries, the one that opened the circuit included
    next_probe: str | None = None
    last_error: str | None = None
    last_success: str | None = None

    @property
    def failing(self) -> bool:
        return self.failing_since is not None


def get(store: Store, channel: str) -> ChannelHealth:
    row = store.one("SELECT * FROM channel_health WHERE channel = ?", (channel,))
    return ChannelHealth(**row) if row else ChannelHealth(channel)


def listing(store: Store) -> list[ChannelHealth]:
    return [ChannelHealth(**r) for r in store.query("SELECT * FROM channel_health ORDER BY channel")]


def failed(store: Store, channel: str, *, now: datetime, next_probe: datetime, error: str) -> ChannelHealth:
    """A try failed: the circuit opens (or stays open) until ``next_probe``."""
    with store.atomic():
        store.execute(
            "INSERT INTO channel_health (channel, failing_since, failures, next_probe, last_error) "
            "VALUES (?, ?, 1, ?, ?) ON CONFLICT (channel) DO UPDATE SET "
            "failing_since = COALESCE(failing_since, excluded.failing_since), "
            "failures = failures + 1, next_probe = excluded.next_probe, last_error = excluded.last_error",
            (channel, _iso(now), _iso(next_probe), error[:MAX_ERROR]),
        )
        return get(store, channel)


def succeeded(store: Store, channel: str, *, now: datetime) -> ChannelHealth:
    """A try worked: the circuit closes. Returns the state it was in before."""
    with store.atomic():
        before = get(store, channel)
        store.execute(
            "INSERT INTO channel_health (channel, failures, last_success) VALUES (?, 0, ?) "
            "ON CONFLICT (channel) DO UPDATE SET failing_since = NULL, failures = 0, next_probe = NULL, "
            "last_success = excluded.last_success",
            (channel, _iso(now)),
        )
    return before


def probe_now(store: Store, now: datetime) -> int:
    """Every failing channel may be tried at ``now`` (after ``watcher alerts retry``)."""
    with store.atomic():
        return store.execute(
            "UPDATE channel_health SET next_probe = ? WHERE failing_since IS NOT NULL AND next_probe > ?",
            (_iso(now), _iso(now)),
        ).rowcount
