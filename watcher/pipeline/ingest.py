"""One new (or edited) entry, prepared on the poll's thread: its page read
(ahead, see :meth:`Ingest.read_ahead`), the text extracted, title and text
folded once, matched, the content hash and SimHash made; the result goes to
the writer (:mod:`watcher.pipeline.writer`), which places it in a story,
stores it and queues its alerts. Nothing here writes the log: the reads (is
this entry known?) run on the pipeline's own connection."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone

from watcher.config import FeedConfig
from watcher.dedup import digest, identity, similarity, unwrap
from watcher.errors import WatcherError
from watcher.match.matcher import Assessment, Document
from watcher.match.meaning import KeepVectors, StoredVectors
from watcher.parse.feed import FeedEntry
from watcher.pipeline import reading
from watcher.pipeline.batch import (
    Body,
    EntryFailure,
    Folded,
    KnownEntry,
    NewArticle,
    RevisedArticle,
    Revision,
    edited,
)
from watcher.pipeline.parts import Parts
from watcher.pipeline.reader import PAGE_ACCEPT, PageBatch, PageOrder, PageRead, page_read
from watcher.pipeline.tally import Tally
from watcher.store import articles, entries
from watcher.store.database import Store
from watcher.text.fold import normalise

__all__ = ["ENTRY_TRIES", "PAGE_ACCEPT", "Ingest", "PageMissing", "fold"]

ENTRY_TRIES = 3  # an entry whose processing keeps failing is tried at this many polls

log = logging.getLogger("watcher.pipeline")


class PageMissing(WatcherError):
    """An entry's page did not come in time (a remote worker did not answer
    within the poll's deadline): the entry is not stored now, and the poll is
    cut there as at its deadline, so the next poll reads the feed again."""


def fold(title: str, body: Body) -> Folded:
    """An article's title and text folded once, with the text's content hash and
    SimHash (the text's folding, hash and SimHash as the extraction worker made
    them, else made here from this folding)."""
    text = digest.folded(body.text, body.derived)
    if body.derived and {"content_hash", "fingerprint"} <= body.derived.keys():
        made = digest.of(body.text, body.derived)
        chash, simhash = made.content_hash, made.fingerprint
    elif body.text.strip():
        chash, simhash = identity.content_hash(text), similarity.fingerprint(text)
    else:
        chash = simhash = None
    return Folded(normalise(title), text, chash, simhash)


class Ingest:
    """Prepares the entries of one feed poll, reading on the pipeline's connection."""

    def __init__(
        self,
        parts: Parts,
        store: Store,
        keep: KeepVectors | None = None,
    ) -> None:
        self.parts = parts
        self.store = store
        embedder = parts.matcher.embedder
        # vectors kept in this pipeline's database: an article is never embedded twice
        # (``keep``: how fresh ones are stored; the pipeline's writer stores them)
        self.vectors = StoredVectors(store, embedder, keep=keep) if embedder is not None else None

    def seen(self, feed_id: int, entry: FeedEntry) -> dict | None:
        return entries.find(self.store, feed_id, entry.guid)

    def known(self, feed_id: int, entry: FeedEntry, tally: Tally) -> KnownEntry | None:
        """The entry's record, when its article is stored already through another
        feed or under an older GUID, or was and has been pruned (keep_days): it
        is not fetched again."""
        canonical = self.canonical(feed_id, entry, tally)
        article_id, seen = self._known_url(canonical, tally)
        if not (article_id or seen):
            return None
        return KnownEntry(feed_id, entry, canonical, article_id, self.parts.clock())

    def look_up(
        self, feed_id: int, feed_entries: Sequence[FeedEntry], tally: Tally, recorded: Mapping[str, dict]
    ) -> dict[str, tuple[int | None, bool]]:
        """Whether the canonical URLs of the entries this poll may store are
        known (:meth:`known`), read in one statement before the entries loop,
        for ``tally.known_urls``. A URL that several entries share is left out:
        it is looked up each time, after the writer may have stored the first."""
        urls = [
            self.canonical(feed_id, entry, tally)
            for entry in feed_entries
            if (seen := recorded.get(entry.guid)) is None or seen["error"] is not None
        ]
        counts = Counter(urls)
        return entries.known_urls(self.store, [url for url in urls if counts[url] == 1])

    def _known_url(self, canonical: str, tally: Tally) -> tuple[int | None, bool]:
        found = tally.known_urls.get(canonical)
        return found if found is not None else entries.known_url(self.store, canonical)

    def canonical(self, feed_id: int, entry: FeedEntry, tally: Tally) -> str:
        """The entry's canonical URL (worked out once per entry of a poll)."""
        key = (feed_id, entry.guid, entry.url, entry.guid in tally.item_fragments)
        found = tally.canonicals.get(key)
        if found is not None:
            return found
        if entry.url:
            found = identity.canonical_url(entry.url, keep_fragment=entry.guid in tally.item_fragments)
        else:
            found = f"urn:watcher:feed:{feed_id}:{entry.guid}"
        tally.canonicals[key] = found
        return found

    def _no_alert(
        self,
        feed: FeedConfig,
        entry: FeedEntry,
        body: Body,
        tally: Tally,
        first_seen: datetime | None = None,
    ) -> str | None:
        """Why this entry's matches must not alert, or None (see the package docstring)."""
        if not self.parts.alerting:
            return "baseline: stored by `watcher run --once --no-send`"
        max_age = feed.max_age if feed.max_age is not None else self.parts.config.alerts.max_age
        when = entry.published or entry.updated or _parsed_time(body.published)
        now = self.parts.clock()
        if when is None:
            if first_seen is None and tally.first_poll:
                return "baseline: no date, in its feed's first poll"
            when = first_seen or now  # an undated entry is as old as its first sighting
            if now - when > timedelta(seconds=max_age):
                return f"too old to alert: first seen {when:%Y-%m-%d %H:%M} UTC, more than max_age ago"
            return None
        if now - when > timedelta(seconds=max_age):
            return f"too old to alert: published {when:%Y-%m-%d %H:%M} UTC, more than max_age ago"
        return None

    def prepare(self, feed_id: int, feed: FeedConfig, entry: FeedEntry, tally: Tally) -> NewArticle:
        """A new entry, ready to store (PageMissing when its page did not come in time)."""
        body = self._body(feed, entry, tally)
        title = entry.title or body.title or ""
        folded = fold(title, body)
        return NewArticle(
            feed_id=feed_id,
            entry=entry,
            canonical=self.canonical(feed_id, entry, tally),
            title=title,
            body=body,
            assessment=self._match(entry, title, body, body.language or entry.language, folded),
            no_alert=self._no_alert(feed, entry, body, tally),
            folded=folded,
            seen_at=self.parts.clock(),
            feed_tags=tuple(feed.tags),
        )

    def _match(
        self, entry: FeedEntry, title: str, body: Body, language: str | None, folded: Folded
    ) -> Assessment:
        """The matcher's assessment: matches, the detected language, similarities (with vectors
        from this database, and the rules' examples learnt from verdicts)."""
        doc = Document(
            id=entry.guid,
            title=title,
            text=body.text,
            summary=entry.summary,
            url=entry.url,
            language=language,
        )
        views = {"title": folded.title, "text": folded.text}
        if self.vectors is None:
            return self.parts.matcher.assess(doc, views=views)
        self.vectors.now = self.parts.clock().isoformat()
        return self.parts.matcher.assess(
            doc, vectors=self.vectors, examples=self.vectors.examples, views=views
        )

    def _body(self, feed: FeedConfig, entry: FeedEntry, tally: Tally) -> Body:
        if not (feed.fetch_article and entry.url):
            return Body(entry.summary, "summary", None if not feed.fetch_article else "entry has no link")
        if entry.guid in tally.item_fragments:  # the page holds many items: the feed has this one's text
            return Body(entry.summary, "summary", None)
        if entry.guid in tally.text_only:  # the entry is the article (a Telegram post)
            return Body(entry.summary, "summary", None)
        resolved = tally.pages.pop(entry.url, None)  # a wrapped link already followed to its page
        if resolved is not None:
            read: PageRead | None = page_read(self.parts.extractor, resolved, entry.url, metadata=True)
        else:
            read = tally.read_ahead.get(entry.url)
        if read is None:  # not read ahead: read it now
            batch = self.parts.reader.read_pages([_page_order(feed, entry, tally)], self.parts.stop)
            try:
                read = batch.get(entry.url)
            finally:
                batch.close()
        if read is None or read.missing:
            raise PageMissing(entry.url)
        tally.pages_tried += 1
        if not read.ok:
            return _page_failed(
                feed, tally, read.error or "page: no answer", entry.summary, timeout=read.timeout
            )
        return Body(
            read.text, "full", None, read.title, read.author, read.published, read.language, read.derived
        )

    def wants_page(self, feed: FeedConfig, entry: FeedEntry, tally: Tally) -> bool:
        """Whether :meth:`_body` will read this entry's page (a wrapped link is
        followed in the entries loop first, so its page is not read ahead)."""
        return (
            bool(feed.fetch_article and entry.url)
            and entry.guid not in tally.item_fragments
            and entry.guid not in tally.text_only
            and not unwrap.is_wrapper(entry.url or "")
        )

    def read_ahead(
        self,
        feed: FeedConfig,
        feed_id: int,
        feed_entries: Sequence[FeedEntry],
        tally: Tally,
        recorded: Mapping[str, dict] | None = None,
    ) -> PageBatch:
        """Start reading the pages this poll will store (new entries, edited
        ones, those that failed before), oldest first, while nothing is written
        yet; the entries loop then takes them as they come in. ``recorded``: the
        feed's entry rows by guid, when the caller has read them already."""
        orders = []
        for entry in reversed(feed_entries):
            if not self.wants_page(feed, entry, tally):
                continue
            seen = recorded.get(entry.guid) if recorded is not None else self.seen(feed_id, entry)
            if seen is not None and seen["error"] is None:
                if seen["article_id"] is None or not edited(entry, seen):
                    continue
            elif seen is not None and seen["failures"] >= ENTRY_TRIES:
                continue
            elif seen is None or seen["error"] is not None:
                article_id, known = self._known_url(self.canonical(feed_id, entry, tally), tally)
                if article_id or known:
                    continue
            orders.append(_page_order(feed, entry, tally))
        return self.parts.reader.read_pages(orders, self.parts.stop)

    def failure(
        self, feed: FeedConfig, feed_id: int, entry: FeedEntry, exc: Exception, tally: Tally
    ) -> EntryFailure:
        """Why the entry failed, to record on its row (the poll goes on with the next one)."""
        error = f"internal error: {type(exc).__name__}: {exc}"[:500]
        log.exception("%s: entry %s failed; going on with the next one", feed.url, entry.url or entry.guid)
        return EntryFailure(
            feed_id=feed_id,
            guid=entry.guid,
            url=entry.url,
            canonical=self.canonical(feed_id, entry, tally),
            error=error,
            seen_at=self.parts.clock(),
        )

    def revise_if_edited(
        self, feed: FeedConfig, feed_id: int, entry: FeedEntry, seen: dict, tally: Tally
    ) -> Revision | None:
        """A known entry whose feed says it changed (a newer <updated> time, or
        another summary) is fetched again; if its text changed, the article is
        updated in place, re-matched, and keeps its story. None: nothing changed."""
        if not edited(entry, seen):
            return None
        article = None
        if seen["article_id"] is not None:
            article = self._revise(feed, entry, seen["article_id"], tally, _parsed_time(seen["first_seen"]))
        return Revision(
            feed_id=feed_id,
            entry=entry,
            canonical=self.canonical(feed_id, entry, tally),
            entry_id=seen["id"],
            seen_at=self.parts.clock(),
            article=article,
        )

    def _revise(
        self, feed: FeedConfig, entry: FeedEntry, article_id: int, tally: Tally, first_seen: datetime | None
    ) -> RevisedArticle | None:
        stored = articles.get(self.store, article_id)
        if stored is None:
            return None  # pruned since the entry was read
        body = self._body(feed, entry, tally)
        if body.extraction == "summary" and stored["extraction"] == "full":
            return None  # the page failed this time: keep the full text we have
        title = entry.title or body.title or stored["title"] or ""
        folded = fold(title, body)
        if folded.content_hash == stored["content_hash"] and body.text == stored["text"]:
            return None
        now = self.parts.clock()
        return RevisedArticle(
            article_id=article_id,
            story_id=stored["story_id"],
            placement=(stored["duplicate_of"], stored["join_reason"], stored["join_similarity"]),
            title=title,
            summary=entry.summary,
            body=body,
            assessment=self._match(entry, title, body, body.language or stored["language"], folded),
            no_alert=self._no_alert(feed, entry, body, tally, first_seen or now),
            folded=folded,
            at=now,
            feed_tags=tuple(feed.tags),
        )


def _page_order(feed: FeedConfig, entry: FeedEntry, tally: Tally) -> PageOrder:
    """The page's order (with the source's own headers, on its own host); its
    metadata only when the feed gave no title or no date (the feed's own win
    anyway, and metadata costs a fifth of the time)."""
    url = entry.url or ""
    return PageOrder(
        url,
        tally.seconds_left,
        metadata=not (entry.title and entry.published),
        headers=reading.request_headers(feed, url),
    )


def _page_failed(feed: FeedConfig, tally: Tally, error: str, summary: str, *, timeout: bool = False) -> Body:
    """A page that could not be read: counted, logged (INFO), and the feed's summary kept."""
    tally.page_failed(error, timeout=timeout)
    log.info("%s: %s", feed.name, error)
    return Body(summary, "summary", error)


def _parsed_time(text: str | None) -> datetime | None:
    """An aware UTC time from an ISO string (a stored time, or the date an
    article page states); None when there is none or it does not read."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
