"""The pipeline: sources -> fetch -> parse -> extract -> match -> dedup -> store -> notify.

One :class:`Pipeline` polls one feed at a time on its own database connection;
the shared, thread-safe parts (HTTP client, extractor, matcher) live in
:class:`Parts`, which ``watcher/app.py`` builds. The daemon and ``watcher run
--once`` run several pipelines in worker threads.

A poll that fails on a bug (anything but the fetch and feed errors, which are
the feed's fault) is still only the feed's recorded error, on one line; its
traceback goes to the log at ERROR.

Crash safety: everything one entry stores (article, entry, story, matches,
outbox rows) is written in one transaction, and the feed's ETag/Last-Modified
are saved only after every entry of the poll is stored. A kill at any moment
therefore leaves either nothing or a whole entry, and the next poll re-reads
the feed and skips what is already stored.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from watcher import health
from watcher.config import Config, FeedConfig
from watcher.dedup import identity, similarity
from watcher.dedup.story import Placement, Stories
from watcher.extract.extractor import ExtractionError, Extractor
from watcher.fetch.client import Client, FetchError
from watcher.match.matcher import Document, Matcher, RuleMatch
from watcher.notify import outbox
from watcher.parse.feed import FeedEntry, FeedError, ParsedFeed, parse_feed
from watcher.sources import schedule as sources
from watcher.store import articles, entries, feeds, searchindex
from watcher.store import matches as match_rows
from watcher.store.database import Store

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"

log = logging.getLogger("watcher.pipeline")


@dataclass(frozen=True)
class Parts:
    """What every pipeline shares: built once at start-up from the config (``watcher.app``)."""

    config: Config
    client: Client
    extractor: Extractor
    matcher: Matcher
    clock: Callable[[], datetime]
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class PollResult:
    feed: str  # the feed's url
    outcome: health.Outcome
    status: health.Status  # the feed's health after this poll
    articles_stored: int = 0
    alerts_queued: int = 0


@dataclass(frozen=True)
class RunSummary:
    feeds_polled: int
    entries_new: int
    articles_stored: int
    alerts_queued: int
    errors: int
    results: tuple[PollResult, ...]


def _revision(entry: FeedEntry) -> dict:
    """What an entry's row remembers to notice a later edit."""
    updated = entry.updated
    digest = hashlib.blake2b(" ".join(entry.summary.split()).encode(), digest_size=12).hexdigest()
    return {"updated": updated.isoformat() if updated else None, "summary_hash": digest}


@dataclass(frozen=True)
class _Body:
    text: str
    extraction: str  # 'full' or 'summary'
    error: str | None
    title: str | None = None
    author: str | None = None
    published: str | None = None
    language: str | None = None


class Pipeline:
    def __init__(self, parts: Parts, store: Store) -> None:
        self.parts = parts
        self.store = store
        self.stories = Stories(store, parts.config.dedup, parts.clock)

    # -- one feed ---------------------------------------------------------
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
            seen = self._seen(row["id"], entry)
            if seen is not None:
                queued += self._revise_if_edited(feed, entry, seen)
                continue
            if self._known(row["id"], entry):
                continue
            new += 1
            article, alerts = self._ingest(row["id"], feed, entry)
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

    # -- one entry --------------------------------------------------------
    def _seen(self, feed_id: int, entry: FeedEntry) -> dict | None:
        return entries.find(self.store, feed_id, entry.guid)

    def _known(self, feed_id: int, entry: FeedEntry) -> bool:
        """Seen before in this feed, or the same article already stored through
        another feed or under an older GUID (then only the entry is recorded)."""
        if self._seen(feed_id, entry) is not None:
            return True
        canonical = self._canonical(feed_id, entry)
        # The article, or an entry whose article was pruned by keep_days (then
        # it is not fetched again either).
        article_id, seen = entries.known_url(self.store, canonical)
        if not (article_id or seen):
            return False
        with self.store.atomic():
            self._insert_entry(feed_id, entry, canonical, article_id)
        return True

    def _canonical(self, feed_id: int, entry: FeedEntry) -> str:
        if entry.url:
            return identity.canonical_url(entry.url)
        return f"urn:watcher:feed:{feed_id}:{entry.guid}"

    def _ingest(self, feed_id: int, feed: FeedConfig, entry: FeedEntry) -> tuple[int, int]:
        body = self._body(feed, entry)
        title = entry.title or body.title or ""
        matches = self.parts.matcher.match(
            Document(
                id=entry.guid,
                title=title,
                text=body.text,
                summary=entry.summary,
                url=entry.url,
                language=body.language,
            )
        )
        canonical = self._canonical(feed_id, entry)
        try:
            return self._save(feed_id, entry, canonical, title, body, matches)
        except sqlite3.IntegrityError:
            # Another feed stored the same article a moment ago: link to it.
            if self._known(feed_id, entry):
                return 0, 0
            raise

    def _body(self, feed: FeedConfig, entry: FeedEntry) -> _Body:
        if not (feed.fetch_article and entry.url):
            return _Body(entry.summary, "summary", None if not feed.fetch_article else "entry has no link")
        net = self.parts.config.network
        try:
            page = self.parts.client.get(entry.url, max_bytes=net.max_page_bytes, accept=PAGE_ACCEPT)
        except FetchError as exc:
            return _Body(entry.summary, "summary", f"page: {exc}")
        if page.status != 200:
            return _Body(entry.summary, "summary", f"page: HTTP {page.status} from {page.url}")
        try:  # the extractor serialises its one worker process itself
            got = self.parts.extractor.extract(page.body, url=page.url)
        except ExtractionError as exc:
            return _Body(entry.summary, "summary", f"extraction: {exc}")
        return _Body(got.text, "full", None, got.title, got.author, got.published, got.language)

    def _save(
        self,
        feed_id: int,
        entry: FeedEntry,
        canonical: str,
        title: str,
        body: _Body,
        matches: Sequence[RuleMatch],
    ) -> tuple[int, int]:
        now = self.parts.clock()
        stamp = now.isoformat()
        chash = identity.content_hash(body.text) if body.text.strip() else None
        fingerprint = similarity.fingerprint(body.text) if body.text.strip() else None
        with self.store.atomic():
            placement = self.stories.place(
                canonical_url=canonical, content_hash=chash, fingerprint=fingerprint, now=now, text=body.text
            )
            article_id = articles.insert(
                self.store,
                feed_id=feed_id,
                url=entry.url or canonical,
                canonical_url=canonical,
                guid=entry.guid,
                title=title,
                author=entry.author or body.author,
                published=entry.published.isoformat() if entry.published else body.published,
                fetched_at=stamp,
                language=body.language or entry.language,
                summary=entry.summary,
                text=body.text,
                extraction=body.extraction,
                extraction_error=body.error,
                content_hash=chash,
                simhash=fingerprint,
                matched=bool(matches),
            )
            searchindex.put(self.store, article_id, title, body.text)
            story_id = self.stories.attach(article_id, placement, title=title, now=now)
            queued = self._record_matches(article_id, story_id, matches, now)
            self._insert_entry(feed_id, entry, canonical, article_id)
        return 1, queued

    def _record_matches(
        self, article_id: int, story_id: int, matches: Sequence[RuleMatch], now: datetime
    ) -> int:
        """Store an article's matches (replacing older ones) and queue its alerts:
        a story alerts when it first matches anything; a member matching a rule
        the story had not matched alerts again only with [alerts] notify_new_rules."""
        match_rows.replace(
            self.store,
            article_id,
            [
                match_rows.NewMatch(m.rule_id, m.title, m.severity, m.score, m.to_json()["hits"])
                for m in matches
            ],
            now.isoformat(),
        )
        had_rules = self.stories.rules(story_id)
        new_rules = self.stories.add_rules(story_id, [m.rule_id for m in matches], now)
        if not matches or not (not had_rules or (self.parts.config.alerts.notify_new_rules and new_rules)):
            return 0
        return outbox.enqueue(
            self.store,
            story_id=story_id,
            article_id=article_id,
            matches=matches,
            channels=self.parts.config.channels,
            now=now,
        )

    def _insert_entry(self, feed_id: int, entry: FeedEntry, canonical: str, article_id: int | None) -> None:
        entries.add(
            self.store,
            feed_id=feed_id,
            guid=entry.guid,
            url=entry.url,
            canonical_url=canonical,
            article_id=article_id,
            first_seen=self.parts.clock().isoformat(),
            **_revision(entry),
        )

    # -- edited articles --------------------------------------------------
    def _revise_if_edited(self, feed: FeedConfig, entry: FeedEntry, seen: dict) -> int:
        """A known entry whose feed says it changed (a newer <updated> time, or
        another summary) is fetched again; if its text changed, the article is
        updated in place, re-matched, and keeps its story. Returns alerts queued."""
        revision = _revision(entry)
        newer = revision["updated"] and seen["updated"] and revision["updated"] > seen["updated"]
        resummarised = seen["summary_hash"] and revision["summary_hash"] != seen["summary_hash"]
        if not (newer or resummarised):
            return 0
        queued = 0
        if seen["article_id"] is not None:
            queued = self._revise(feed, entry, seen["article_id"])
        with self.store.atomic():
            entries.set_revision(self.store, seen["id"], **revision)
        return queued

    def _revise(self, feed: FeedConfig, entry: FeedEntry, article_id: int) -> int:
        stored = articles.get(self.store, article_id)
        if stored is None:
            return 0  # pruned since the entry was read
        body = self._body(feed, entry)
        if body.extraction == "summary" and stored["extraction"] == "full":
            return 0  # the page failed this time: keep the full text we have
        chash = identity.content_hash(body.text) if body.text.strip() else None
        if chash == stored["content_hash"] and body.text == stored["text"]:
            return 0
        title = entry.title or body.title or stored["title"] or ""
        matches = self.parts.matcher.match(
            Document(
                id=entry.guid,
                title=title,
                text=body.text,
                summary=entry.summary,
                url=entry.url,
                language=body.language or stored["language"],
            )
        )
        now = self.parts.clock()
        with self.store.atomic():
            articles.revise(
                self.store,
                article_id,
                title=title,
                text=body.text,
                summary=entry.summary,
                extraction=body.extraction,
                extraction_error=body.error,
                content_hash=chash,
                updated_at=now.isoformat(),
                matched=bool(matches),
                simhash=similarity.fingerprint(body.text) if body.text.strip() else None,
            )
            searchindex.put(self.store, article_id, title, body.text)
            self.stories.attach(
                article_id,
                Placement(
                    stored["story_id"],
                    stored["duplicate_of"],
                    stored["join_reason"],
                    stored["join_similarity"],
                    article_id=article_id,
                ),
                title=title,
                now=now,
            )
            return self._record_matches(article_id, stored["story_id"], matches, now)

    # -- bookkeeping ------------------------------------------------------
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


class ThreadPipelines:
    """One :class:`Pipeline` per worker thread, each on its own database
    connection (a SQLite connection is not shared between writers)."""

    def __init__(self, parts: Parts, open_store: Callable[[], Store]) -> None:
        self.parts = parts
        self.open_store = open_store
        self._local = threading.local()
        self._opened: list[Store] = []
        self._lock = threading.Lock()

    def poll(self, feed: FeedConfig) -> PollResult:
        """Poll ``feed`` on this thread's pipeline; a failure of the database
        itself becomes the feed's recorded error, never the caller's exception."""
        try:
            if not hasattr(self._local, "pipeline"):
                store = self.open_store()
                with self._lock:
                    self._opened.append(store)
                self._local.pipeline = Pipeline(self.parts, store)
            return self._local.pipeline.poll(feed)
        except Exception as exc:
            log.exception("%s: could not record the poll", feed.url)
            return PollResult(
                feed.url,
                health.Outcome(health.ERROR, error=f"could not record the poll: {type(exc).__name__}: {exc}"),
                health.Status.FAILING,
            )

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for store in opened:
            store.close()


def poll_due(
    parts: Parts, open_store: Callable[[], Store], feeds: Sequence[FeedConfig], *, workers: int
) -> RunSummary:
    """Poll ``feeds`` with ``workers`` threads, each on its own connection."""
    pipelines = ThreadPipelines(parts, open_store)
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="poll") as pool:
            results = tuple(pool.map(pipelines.poll, feeds))
    finally:
        pipelines.close()
    return summarize(results)


def summarize(results: Sequence[PollResult]) -> RunSummary:
    return RunSummary(
        feeds_polled=len(results),
        entries_new=sum(r.outcome.entries_new for r in results),
        articles_stored=sum(r.articles_stored for r in results),
        alerts_queued=sum(r.alerts_queued for r in results),
        errors=sum(r.status.trouble for r in results),
        results=tuple(results),
    )


def run_once(parts: Parts, store: Store, open_store: Callable[[], Store]) -> RunSummary:
    """One pass over every due feed, recorded in ``runs``. Healthy feeds are
    polled even before their interval is up (cron sets the pace); feeds
    backing off or throttled still wait."""
    config = parts.config
    now = parts.clock()
    sources.sync(store, config.feeds, now)
    run_id = feeds.start_run(store, now.isoformat())
    summary = poll_due(
        parts,
        open_store,
        sources.due(store, config.feeds, now, healthy_too=True),
        workers=config.network.max_connections,
    )
    feeds.finish_run(
        store,
        run_id,
        finished=parts.clock().isoformat(),
        feeds_polled=summary.feeds_polled,
        entries_new=summary.entries_new,
        articles_stored=summary.articles_stored,
        errors=summary.errors,
    )
    return summary
