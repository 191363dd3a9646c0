"""One poll of one feed: fetch it, parse it, hand each new entry to ``Ingest``,
and record the outcome in the feed's health."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from watcher import health
from watcher.config import FeedConfig
from watcher.fetch.client import FetchError
from watcher.parse.feed import FeedError, ParsedFeed, parse_feed
from watcher.pipeline.ingest import Ingest
from watcher.pipeline.parts import Parts
from watcher.sources import schedule as sources
from watcher.store import feeds
from watcher.store.database import Store

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)

log = logging.getLogger("watcher.pipeline")


@dataclass(frozen=True)
class PollResult:
    feed: str  # the feed's url
    outcome: health.Outcome
    status: health.Status  # the feed's health after this poll
    articles_stored: int = 0
    alerts_queued: int = 0


class Pipeline:
    """Polls one feed at a time on its own database connection."""

    def __init__(self, parts: Parts, store: Store) -> None:
        self.parts = parts
        self.store = store
        self.ingest = Ingest(parts, store)

    def poll(self, feed: FeedConfig) -> PollResult:
        started = self.parts.clock()
        row = sources.row(self.store, feed.url)
        try:
            outcome, stored, queued = self._poll(feed, row)
        except Exception as exc:  # a bug must not stop the other feeds: one line for the
            log.exception("%s: internal error while polling", feed.url)  # feed, the traceback here
            outcome, stored, queued = (
                health.Outcome(health.ERROR, error=f"internal error: {type(exc).__name__}: {exc}"),
                0,
                0,
            )
        status = self._record(row, feed, outcome, started)
        return PollResult(feed.url, outcome, status, stored, queued)

    def _poll(self, feed: FeedConfig, row: dict) -> tuple[health.Outcome, int, int]:
        net = self.parts.config.network
        try:
            response = self.parts.client.get(
                feed.url,
                max_bytes=net.max_feed_bytes,
                etag=row["etag"],
                last_modified=row["last_modified"],
                accept=FEED_ACCEPT,
            )
        except FetchError as exc:
            return health.Outcome(health.ERROR, error=str(exc)), 0, 0
        status = response.status
        if status == 304:
            return health.Outcome(health.NOT_MODIFIED, http_status=304), 0, 0
        if status == 410:
            return (
                health.Outcome(
                    health.GONE,
                    http_status=410,
                    error=(
                        "HTTP 410 Gone: the publisher removed this feed; it is no longer "
                        "polled. Remove it from the config or fix its url"
                    ),
                ),
                0,
                0,
            )
        if status in (429, 503):
            return (
                health.Outcome(
                    health.THROTTLED,
                    http_status=status,
                    retry_after=response.retry_after,
                    error=f"HTTP {status}: server asked us to slow down",
                ),
                0,
                0,
            )
        if status >= 400 or status < 200:
            return (
                health.Outcome(health.ERROR, http_status=status, error=f"HTTP {status} from {response.url}"),
                0,
                0,
            )
        try:
            parsed = parse_feed(response.body, url=response.url, content_type=response.content_type)
        except FeedError as exc:
            return health.Outcome(health.ERROR, http_status=status, error=str(exc)), 0, 0
        return self._store_entries(feed, row, parsed, response.etag, response.last_modified, status)

    def _store_entries(
        self,
        feed: FeedConfig,
        row: dict,
        parsed: ParsedFeed,
        etag: str | None,
        last_modified: str | None,
        status: int,
    ) -> tuple[health.Outcome, int, int]:
        new = stored = queued = 0
        for entry in reversed(parsed.entries):  # oldest first: the first copy opens the story
            if self.parts.stop.is_set():
                # Interrupted: keep the old validators so the next poll re-reads the feed.
                return (
                    health.Outcome(
                        health.INTERRUPTED,
                        http_status=status,
                        entries_new=new,
                        error="interrupted by shutdown",
                    ),
                    stored,
                    queued,
                )
            seen = self.ingest.seen(row["id"], entry)
            if seen is not None:
                queued += self.ingest.revise_if_edited(feed, entry, seen)
                continue
            if self.ingest.known(row["id"], entry):
                continue
            new += 1
            article, alerts = self.ingest.add(row["id"], feed, entry)
            stored += article
            queued += alerts
        return (
            health.Outcome(
                health.OK,
                http_status=status,
                etag=etag,
                last_modified=last_modified,
                entries_new=new,
                error=parsed.warning,
            ),
            stored,
            queued,
        )

    def _record(
        self, row: dict, feed: FeedConfig, outcome: health.Outcome, started: datetime
    ) -> health.Status:
        """Save the poll and the feed's new state; the feed's health after it."""
        now = self.parts.clock()
        update = health.next_state(row, outcome, interval=feed.interval, now=now)
        with self.store.atomic():
            feeds.update_state(self.store, row["id"], update)
            feeds.add_poll(
                self.store,
                row["id"],
                started=started.isoformat(),
                finished=now.isoformat(),
                status=outcome.kind,
                http_status=outcome.http_status,
                entries_new=outcome.entries_new,
                error=outcome.error,
            )
        return health.FeedState.of({**row, **update}).status
