"""Feeds and the database: each feed's health (the feeds page) and the
database's size, counts and age (``watcher status``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from watcher import health
from watcher.store import alerts, articles, feeds, overview
from watcher.store.database import Store


@dataclass(frozen=True)
class FeedHealth:
    id: int
    name: str
    url: str
    last_polled: str | None
    last_success: str | None
    last_status: str | None
    last_http_status: int | None
    consecutive_errors: int
    last_error: str | None
    next_due: str | None
    gone: bool
    articles: int
    matched: int
    last_article: str | None = None  # when the newest article from this feed was fetched

    @property
    def state(self) -> health.Status:
        """The feed's health, in the words the CLI, the web page and the logs use."""
        return health.FeedState(self.last_polled, self.last_status, self.consecutive_errors, self.gone).status


QUIET_DAYS = 7  # a healthy feed with no new article for this long is flagged


def quiet(feeds: Sequence[FeedHealth], now: datetime, days: float = QUIET_DAYS) -> set[int]:
    """Ids of the healthy feeds that brought no new article in ``days``: they
    poll fine, but their address may no longer list new articles."""
    since = (now - timedelta(days=days)).isoformat()
    return {f.id for f in feeds if f.state.healthy and (f.last_article or "") < since}


def feed_health(store: Store) -> tuple[FeedHealth, ...]:
    """Every feed's last poll, errors and next due time; failing feeds first."""
    return tuple(
        FeedHealth(
            r["id"],
            r["name"],
            r["url"],
            r["last_polled"],
            r["last_success"],
            r["last_status"],
            r["last_http_status"],
            r["consecutive_errors"],
            r["last_error"],
            r["next_due"],
            bool(r["gone"]),
            r["articles"],
            r["matched"],
            r["last_article"],
        )
        for r in feeds.with_article_counts(store)
    )


@dataclass(frozen=True)
class Status:
    path: str
    size_bytes: int  # database file plus its write-ahead log
    schema_version: int
    counts: tuple[tuple[str, int], ...]  # (what, how many) in display order
    alerts: tuple[tuple[str, int], ...]  # (status, how many)
    oldest_article: str | None
    newest_article: str | None
    last_run: str | None


def status(store: Store) -> Status:
    oldest, newest = articles.span(store)
    return Status(
        path=store.path,
        size_bytes=overview.size_bytes(store),
        schema_version=store.version,
        counts=_with_feed_statuses(overview.counts(store), feed_health(store)),
        alerts=tuple(alerts.by_status(store)),
        oldest_article=oldest,
        newest_article=newest,
        last_run=feeds.last_run(store),
    )


def _with_feed_statuses(
    counts: tuple[tuple[str, int], ...], feeds: tuple[FeedHealth, ...]
) -> tuple[tuple[str, int], ...]:
    """The counts with, after "feeds", how many feeds are in each status ("feeds failing")."""
    by_status = Counter(f.state for f in feeds)
    per_status = tuple((f"feeds {s}", by_status[s]) for s in health.Status)
    return counts[:1] + per_status + counts[1:]


def last_poll(store: Store) -> str | None:
    """When any feed was last polled."""
    return feeds.last_polled(store)
