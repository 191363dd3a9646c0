"""One poll of one feed: fetch it, parse it, have ``Ingest`` prepare each new
entry, hand the prepared writes to the writer, and record the outcome in the
feed's health (through the writer too, after the entries)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watcher import health
from watcher.config import FeedConfig
from watcher.dedup import identity
from watcher.parse.feed import ParsedFeed
from watcher.pipeline import reading
from watcher.pipeline.batch import Item, PollRecord, Stored
from watcher.pipeline.ingest import ENTRY_TRIES, Ingest, PageMissing
from watcher.pipeline.parts import Parts
from watcher.pipeline.reader import FeedOrder
from watcher.pipeline.tally import Tally
from watcher.pipeline.writer import DirectWriter, Writer
from watcher.sources import schedule as sources
from watcher.store import database, entries
from watcher.store.database import Store

FEED_ACCEPT = reading.FEED_ACCEPT

HAND_IN = 64  # prepared entries handed to the writer at once (sooner after an article page)

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
    """Polls one feed at a time: reads on its own database connection, writes
    through the shared ``writer`` (without one, on its own connection, in its
    own thread)."""

    def __init__(self, parts: Parts, store: Store, writer: Writer | DirectWriter | None = None) -> None:
        self.parts = parts
        self.store = store
        self.writer = writer or DirectWriter(store, parts.config, parts.clock, parts.matcher.rules)
        self.ingest = Ingest(parts, store, keep=self.writer.keep_vectors)

    def poll(self, feed: FeedConfig, row: Mapping[str, Any] | None = None) -> PollResult:
        """Poll ``feed`` (``row``: its row in ``feeds`` as it is now, when the
        caller read it already) and wait until its record is stored (a failure
        of the database to store it is raised)."""
        result, recording = self.poll_nowait(feed, row)
        self.writer.wait(recording)
        return result

    def poll_nowait(
        self, feed: FeedConfig, row: Mapping[str, Any] | None = None, *, hold: bool = False
    ) -> tuple[PollResult, Future[None]]:
        """Poll ``feed``, hand its record to the writer and return without
        waiting for it: the future is done when the record is stored (or raises
        why it could not be). The poll's entries are stored before it returns,
        and the record goes after them, so the promise holds that a feed's
        validators are never saved before its entries. ``hold``: the writer
        may keep the record back to store it with others' (``Writer.record``):
        the caller closes the writer before it waits for the future."""
        started = self.parts.clock()
        if row is None:
            row = sources.row(self.store, feed.url)
        previous = health.status_of(row)
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
        status, recording = self._record(row, feed, outcome, started, hold)
        result = PollResult(
            feed.url,
            outcome,
            status,
            stored,
            queued,
            previous=previous,
            delay=health.delay(row, outcome, interval=feed.interval),
            database_error=database_error,
        )
        return result, recording

    def _poll(
        self, feed: FeedConfig, row: Mapping[str, Any], tally: Tally
    ) -> tuple[health.Outcome, int, int]:
        read = self.parts.reader.read_feed(
            FeedOrder(
                feed.url,
                row["etag"],
                row["last_modified"],
                tally.seconds_left,
                # only a Telegram channel's paging looks at them
                recent=tuple(entries.recent_guids(self.store, row["id"])) if feed.kind == "telegram" else (),
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
        return self._store_entries(_Read(feed, row, read.feed, etag, last_modified, status), tally)

    def _store_entries(self, got: _Read, tally: Tally) -> tuple[health.Outcome, int, int]:
        feed, feed_id, parsed = got.feed, got.row["id"], got.parsed
        tally.item_fragments = identity.item_fragments([(e.guid, e.url) for e in parsed.entries])
        recorded = entries.find_many(self.store, feed_id, [e.guid for e in parsed.entries])
        tally.known_urls = self.ingest.look_up(feed_id, parsed.entries, tally, recorded)
        tally.read_ahead = self.ingest.read_ahead(feed, feed_id, parsed.entries, tally, recorded)
        try:
            return self._store_each(got, tally, recorded)
        finally:
            tally.read_ahead.close()

    def _store_each(
        self, got: _Read, tally: Tally, recorded: dict[str, dict]
    ) -> tuple[health.Outcome, int, int]:
        feed, row, parsed, status = got.feed, got.row, got.parsed, got.status
        new = 0
        handed = _HandedIn(self.writer)
        cut = interrupted = False
        done: set[str] = set()
        for entry in reversed(parsed.entries):  # oldest first: the first copy opens the story
            if self.parts.stop.is_set():
                interrupted = True
                break
            if tally.expired:
                cut = True
                break
            if entry.guid in done:
                continue  # the same entry twice in one document
            done.add(entry.guid)
            handed.check()  # the database failed: every later entry would fail the same way
            counted = False
            try:
                seen = recorded.get(entry.guid)
                if seen is not None and seen["error"] is None:
                    handed.add(self.ingest.revise_if_edited(feed, row["id"], entry, seen, tally), soon=True)
                    continue
                if seen is not None and seen["failures"] >= ENTRY_TRIES:
                    continue  # given up on: the error stays recorded on the entry
                entry = reading.resolve(self.parts, feed, entry, tally)  # a wrapped link without its target
                known = self.ingest.known(row["id"], entry, tally)
                if known is not None:
                    handed.add(known)
                    continue
                new += 1
                counted = True
                pages = tally.pages_tried
                handed.add(
                    self.ingest.prepare(row["id"], feed, entry, tally), soon=tally.pages_tried != pages
                )
            except PageMissing:
                new -= int(counted)  # not reached after all: its page did not come in time
                cut = True  # it waits for the next poll, as entries past the deadline do
                break
            except Exception as exc:
                if database.unwritable(exc):
                    raise
                handed.add(self.ingest.failure(feed, row["id"], entry, exc, tally))
        stored, queued = self._settle(feed, handed, tally)
        if interrupted:  # keep the old validators so the next poll re-reads the feed
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
        clean = not cut and not tally.entries_failed
        return (
            health.Outcome(
                health.OK,
                http_status=status,
                # Entries not reached or failed are read again at the next poll: the old
                # validators stay so that it does not get a 304.
                etag=got.etag if clean else row["etag"],
                last_modified=got.last_modified if clean else row["last_modified"],
                entries_new=new,
                warning=self._warning(feed, parsed, tally, cut, new),
                **tally.outcome_fields(),
            ),
            stored,
            queued,
        )

    def _settle(self, feed: FeedConfig, handed: _HandedIn, tally: Tally) -> tuple[int, int]:
        """Wait until the writer has stored what this poll handed in; (articles
        stored, alerts queued). Entries it could not store count as failed."""
        stored = queued = 0
        for item, result in handed.results():
            stored += result.new
            queued += result.alerts
            if result.failed:
                tally.entries_failed += 1
                tally.last_entry_error = result.failed
                if result.tries >= ENTRY_TRIES:
                    log.warning(
                        "%s: entry %s failed %d times; it is not tried again (entries.error says why)",
                        feed.url,
                        getattr(item, "url", None) or getattr(item, "guid", None) or "?",
                        result.tries,
                    )
        return stored, queued

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
        self,
        row: Mapping[str, Any],
        feed: FeedConfig,
        outcome: health.Outcome,
        started: datetime,
        hold: bool = False,
    ) -> tuple[health.Status, Future[None]]:
        """Hand the writer the poll's record and the feed's new state (stored
        after the poll's entries); the feed's health after it, and the future
        of the record."""
        now = self.parts.clock()
        update = health.next_state(row, outcome, interval=feed.interval, now=now)
        record = PollRecord(
            row["id"],
            update,
            {
                "started": started.isoformat(),
                "finished": update["last_polled"],  # now, as stored
                "status": outcome.kind,
                "http_status": outcome.http_status,
                "entries_new": outcome.entries_new,
                "error": outcome.error,
                "pages_tried": outcome.pages_tried,
                "pages_failed": outcome.pages_failed,
                "last_page_error": outcome.last_page_error,
                "warning": outcome.warning,
            },
        )
        return health.status_of(row, update), self.writer.record(record, hold=hold)


@dataclass(frozen=True)
class _Read:
    """A feed this poll read (2xx, parsed): what its entries are stored from."""

    feed: FeedConfig
    row: Mapping[str, Any]  # the feed's row as the poll found it
    parsed: ParsedFeed
    etag: str | None  # the validators to save once every entry is stored (None: they
    last_modified: str | None  # do not stand for all that was read)
    status: int


class _HandedIn:
    """What one poll handed the writer: items wait in ``pending`` until there
    are HAND_IN of them (or one that took an article page), so the writer gets
    them in groups and stores some while the poll goes on."""

    def __init__(self, writer: Writer | DirectWriter) -> None:
        self.writer = writer
        self.pending: list[Item] = []
        self.futures: list[tuple[Item, Future[Stored]]] = []

    def add(self, item: Item | None, *, soon: bool = False) -> None:
        if item is not None:
            self.pending.append(item)
        if self.pending and (soon or len(self.pending) >= HAND_IN):
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.futures += zip(self.pending, self.writer.submit(self.pending), strict=True)
            self.pending = []

    def check(self) -> None:
        """Raise the database's failure as soon as the writer met one."""
        for _, future in self.futures[-HAND_IN:]:
            if future.done() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]

    def results(self) -> list[tuple[Item, Stored]]:
        self.flush()
        if self.futures and not self.futures[-1][1].done():
            self.writer.hurry()  # the writer stores in order: the last one is stored last
        return [(item, future.result()) for item, future in self.futures]
