"""One poll of one feed: fetch it, parse it, hand each new entry to ``Ingest``,
and record the outcome in the feed's health."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from watcher import health
from watcher.config import FeedConfig
from watcher.dedup import identity
from watcher.parse.feed import ParsedFeed
from watcher.pipeline import reading
from watcher.pipeline.ingest import ENTRY_TRIES, Ingest, PageMissing
from watcher.pipeline.parts import Parts
from watcher.pipeline.reader import FeedOrder
from watcher.pipeline.tally import Tally
from watcher.sources import schedule as sources
from watcher.store import database, entries, feeds
from watcher.store.database import Store

FEED_ACCEPT = reading.FEED_ACCEPT

log = logging.getLogger("watcher.pipeline")


@dataclass(frozen=True)
class PollResult:
    feed: str  # the feed's url
    outcome: health.Outcome
    status: health.Status  # the feed's health after this poll
    articles_stored: int = 0
    alerts_queued: int = 0
    previous: health.Status = health.Status.NEW  # the feed's health before this poll
    # Seconds from the end of this poll to the feed's next one (None: never,
    # the feed is gone); the daemon schedules by it on the monotonic clock.
    delay: float | None = None
    recorded: bool = True  # False: the database could not record this poll
    database_error: str | None = None  # the database could not be written (disk full, I/O error...)

    @property
    def recovered(self) -> bool:
        return self.previous.trouble and not self.status.trouble

    def describe(self, name: str) -> str:
        """One log line about this poll."""
        o = self.outcome
        if self.status.trouble or not self.recorded:
            return f"{name}: {self.status}: {o.error}"
        text = (
            f"{name}: {self.status}, {o.entries_new} new, {self.articles_stored} stored, "
            f"{self.alerts_queued} alerts queued"
        )
        if o.pages_tried:
            text += f", {o.pages_failed} of {o.pages_tried} page(s) failed"
        if self.recovered:
            text += f" (recovered; was {self.previous})"
        return text + (f"; warning: {o.warning}" if o.warning else "")


class Pipeline:
    """Polls one feed at a time on its own database connection."""

    def __init__(self, parts: Parts, store: Store) -> None:
        self.parts = parts
        self.store = store
        self.ingest = Ingest(parts, store)

    def poll(self, feed: FeedConfig) -> PollResult:
        started = self.parts.clock()
        row = sources.row(self.store, feed.url)
        previous = health.FeedState.of(row).status
        tally = Tally(
            deadline=time.monotonic() + self.parts.config.network.poll_deadline,
            first_poll=row.get("last_success") is None,
        )
        database_error = None
        try:
            outcome, stored, queued = self._poll(feed, row, tally)
        except Exception as exc:  # a bug must not stop the other feeds: one line for the
            if database.unwritable(exc):  # feed, the traceback in the log
                log.debug("%s: the database could not be written: %s", feed.url, exc)
                database_error = str(exc)
                error = f"the database could not be written: {exc}"
            else:
                log.exception("%s: internal error while polling", feed.url)
                error = f"internal error: {type(exc).__name__}: {exc}"
            outcome, stored, queued = health.Outcome(health.ERROR, error=error, timeouts=tally.timeouts), 0, 0
        status = self._record(row, feed, outcome, started)
        return PollResult(
            feed.url,
            outcome,
            status,
            stored,
            queued,
            previous=previous,
            delay=health.delay(row, outcome, interval=feed.interval),
            database_error=database_error,
        )

    def _poll(self, feed: FeedConfig, row: dict, tally: Tally) -> tuple[health.Outcome, int, int]:
        read = self.parts.reader.read_feed(
            FeedOrder(
                feed.url,
                row["etag"],
                row["last_modified"],
                tally.seconds_left,
                recent=tuple(entries.recent_guids(self.store, row["id"])),
            ),
            feed,
        )
        status = read.status
        if status == 0:
            return health.Outcome(health.ERROR, error=read.error, timeouts=int(read.timeout)), 0, 0
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
                    retry_after=read.retry_after,
                    error=f"HTTP {status}: server asked us to slow down",
                ),
                0,
                0,
            )
        if status >= 400 or status < 200:
            return (
                health.Outcome(health.ERROR, http_status=status, error=f"HTTP {status} from {read.url}"),
                0,
                0,
            )
        if read.feed is None:
            return health.Outcome(health.ERROR, http_status=status, error=read.error), 0, 0
        tally.text_only = frozenset(read.text_only)
        etag, last_modified = (read.etag, read.last_modified) if read.validators else (None, None)
        return self._store_entries(feed, row, read.feed, etag, last_modified, status, tally)

    def _store_entries(
        self,
        feed: FeedConfig,
        row: dict,
        parsed: ParsedFeed,
        etag: str | None,
        last_modified: str | None,
        status: int,
        tally: Tally,
    ) -> tuple[health.Outcome, int, int]:
        tally.item_fragments = identity.item_fragments([(e.guid, e.url) for e in parsed.entries])
        tally.read_ahead = self.ingest.read_ahead(feed, row["id"], parsed.entries, tally)
        try:
            return self._store_each(feed, row, parsed, etag, last_modified, status, tally)
        finally:
            tally.read_ahead.close()

    def _store_each(
        self,
        feed: FeedConfig,
        row: dict,
        parsed: ParsedFeed,
        etag: str | None,
        last_modified: str | None,
        status: int,
        tally: Tally,
    ) -> tuple[health.Outcome, int, int]:
        new = stored = queued = 0
        cut = False
        for entry in reversed(parsed.entries):  # oldest first: the first copy opens the story
            if self.parts.stop.is_set():
                # Interrupted: keep the old validators so the next poll re-reads the feed.
                return (
                    health.Outcome(
                        health.INTERRUPTED,
                        http_status=status,
                        entries_new=new,
                        error="interrupted by shutdown",
                        **tally.outcome_fields(),
                    ),
                    stored,
                    queued,
                )
            if tally.expired:
                cut = True
                break
            counted = False
            try:
                seen = self.ingest.seen(row["id"], entry)
                if seen is not None and seen["error"] is None:
                    queued += self.ingest.revise_if_edited(feed, entry, seen, tally)
                    continue
                if seen is not None and seen["failures"] >= ENTRY_TRIES:
                    continue  # given up on: the error stays recorded on the entry
                entry = reading.resolve(self.parts, feed, entry, tally)  # a wrapped link without its target
                if self.ingest.known(row["id"], entry, tally):
                    continue
                new += 1
                counted = True
                article, alerts = self.ingest.add(row["id"], feed, entry, tally)
                stored += article
                queued += alerts
            except PageMissing:
                new -= int(counted)  # not reached after all: its page did not come in time
                cut = True  # it waits for the next poll, as entries past the deadline do
                break
            except Exception as exc:
                if database.unwritable(exc):
                    raise  # every later entry would fail the same way: the poll ends
                tries = self.ingest.record_failure(feed, row["id"], entry, exc, tally)
                if tries >= ENTRY_TRIES:
                    log.warning(
                        "%s: entry %s failed %d times; it is not tried again (entries.error says why)",
                        feed.url,
                        entry.url or entry.guid,
                        tries,
                    )
        clean = not cut and not tally.entries_failed
        return (
            health.Outcome(
                health.OK,
                http_status=status,
                # Entries not reached or failed are read again at the next poll: the old
                # validators stay so that it does not get a 304.
                etag=etag if clean else row["etag"],
                last_modified=last_modified if clean else row["last_modified"],
                entries_new=new,
                warning=self._warning(feed, parsed, tally, cut, new),
                **tally.outcome_fields(),
            ),
            stored,
            queued,
        )

    def _warning(self, feed: FeedConfig, parsed: ParsedFeed, tally: Tally, cut: bool, new: int) -> str | None:
        """What was read but not cleanly, for ``feeds.last_warning`` (None when all was well)."""
        notes = [parsed.warning] if parsed.warning else []
        linkless = sum(1 for e in parsed.entries if not e.url)
        if linkless and feed.fetch_article:
            notes.append(
                f"{linkless} of {len(parsed.entries)} entries have no link; their feed text is stored"
            )
        if tally.entries_failed:
            notes.append(
                f"{tally.entries_failed} entr{'y' if tally.entries_failed == 1 else 'ies'} could not be "
                f"stored ({tally.last_entry_error}); tried again at the next polls"
            )
        if cut:
            notes.append(
                f"the poll's deadline ([network] poll_deadline, {self.parts.config.network.poll_deadline:g} s) "
                f"was reached after {new} new entries; the rest wait for the next poll"
            )
        return "; ".join(notes) or None

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
                pages_tried=outcome.pages_tried,
                pages_failed=outcome.pages_failed,
                last_page_error=outcome.last_page_error,
                warning=outcome.warning,
            )
        return health.FeedState.of({**row, **update}).status
