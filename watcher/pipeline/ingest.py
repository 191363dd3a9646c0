"""One new (or edited) entry: fetch its page, extract the text, match it,
place it in a story, store it and queue its alerts, in one transaction."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from watcher.config import FeedConfig
from watcher.dedup import digest, identity, unwrap
from watcher.dedup.story import Placement, Stories
from watcher.errors import WatcherError
from watcher.match.matcher import Assessment, Document, RuleMatch
from watcher.match.meaning import StoredVectors
from watcher.notify import outbox, spread
from watcher.parse.feed import FeedEntry
from watcher.pipeline import reading
from watcher.pipeline.parts import Parts
from watcher.pipeline.reader import PAGE_ACCEPT, PageBatch, PageOrder, PageRead, page_read
from watcher.pipeline.tally import Tally
from watcher.store import articles, embeddings, entries, searchindex
from watcher.store import matches as match_rows
from watcher.store.database import Store

__all__ = ["ENTRY_TRIES", "PAGE_ACCEPT", "Ingest", "PageMissing"]

ENTRY_TRIES = 3  # an entry whose processing keeps failing is tried at this many polls

log = logging.getLogger("watcher.pipeline")


def _revision(entry: FeedEntry) -> dict:
    """What an entry's row remembers to notice a later edit."""
    updated = entry.updated
    digest = hashlib.blake2b(" ".join(entry.summary.split()).encode(), digest_size=12).hexdigest()
    return {"updated": updated.isoformat() if updated else None, "summary_hash": digest}


class PageMissing(WatcherError):
    """An entry's page did not come in time (a remote worker did not answer
    within the poll's deadline): the entry is not stored now, and the poll is
    cut there as at its deadline, so the next poll reads the feed again."""


@dataclass(frozen=True)
class _Body:
    text: str
    extraction: str  # 'full' or 'summary'
    error: str | None
    title: str | None = None
    author: str | None = None
    published: str | None = None
    language: str | None = None
    derived: Mapping[str, object] | None = None  # computed with the text, in the extraction worker

    def digest(self) -> digest.Digest:
        return digest.of(self.text, self.derived)


class Ingest:
    """Stores the entries of one feed poll, on the pipeline's connection."""

    def __init__(self, parts: Parts, store: Store) -> None:
        self.parts = parts
        self.store = store
        self.stories = Stories(store, parts.config.dedup, parts.clock)
        embedder = parts.matcher.embedder
        # vectors kept in this pipeline's database: an article is never embedded twice
        self.vectors = StoredVectors(store, embedder) if embedder is not None else None

    def seen(self, feed_id: int, entry: FeedEntry) -> dict | None:
        return entries.find(self.store, feed_id, entry.guid)

    def known(self, feed_id: int, entry: FeedEntry, tally: Tally) -> bool:
        """Seen before in this feed, or the same article already stored through
        another feed or under an older GUID (then only the entry is recorded).
        An entry whose row records a failure is not known: it is tried again."""
        row = self.seen(feed_id, entry)
        if row is not None and row["error"] is None:
            return True
        canonical = self.canonical(feed_id, entry, tally)
        # The article, or an entry whose article was pruned by keep_days (then
        # it is not fetched again either).
        article_id, seen = entries.known_url(self.store, canonical)
        if not (article_id or seen):
            return False
        with self.store.atomic():
            self._insert_entry(feed_id, entry, canonical, article_id)
        return True

    def canonical(self, feed_id: int, entry: FeedEntry, tally: Tally) -> str:
        if entry.url:
            return identity.canonical_url(entry.url, keep_fragment=entry.guid in tally.item_fragments)
        return f"urn:watcher:feed:{feed_id}:{entry.guid}"

    def _no_alert(
        self,
        feed: FeedConfig,
        entry: FeedEntry,
        body: _Body,
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

    def add(self, feed_id: int, feed: FeedConfig, entry: FeedEntry, tally: Tally) -> tuple[int, int]:
        body = self._body(feed, entry, tally)
        title = entry.title or body.title or ""
        assessed = self._match(entry, title, body, body.language or entry.language)
        canonical = self.canonical(feed_id, entry, tally)
        no_alert = self._no_alert(feed, entry, body, tally)
        try:
            return self._save(feed_id, entry, canonical, title, body, assessed, no_alert, feed.tags)
        except sqlite3.IntegrityError:
            # Another feed stored the same article a moment ago: link to it.
            if self.known(feed_id, entry, tally):
                return 0, 0
            raise

    def _match(self, entry: FeedEntry, title: str, body: _Body, language: str | None) -> Assessment:
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
        if self.vectors is None:
            return self.parts.matcher.assess(doc)
        self.vectors.now = self.parts.clock().isoformat()
        return self.parts.matcher.assess(doc, vectors=self.vectors, examples=self.vectors.examples)

    def _body(self, feed: FeedConfig, entry: FeedEntry, tally: Tally) -> _Body:
        if not (feed.fetch_article and entry.url):
            return _Body(entry.summary, "summary", None if not feed.fetch_article else "entry has no link")
        if entry.guid in tally.item_fragments:  # the page holds many items: the feed has this one's text
            return _Body(entry.summary, "summary", None)
        if entry.guid in tally.text_only:  # the entry is the article (a Telegram post)
            return _Body(entry.summary, "summary", None)
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
        return _Body(
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
        self, feed: FeedConfig, feed_id: int, feed_entries: Sequence[FeedEntry], tally: Tally
    ) -> PageBatch:
        """Start reading the pages this poll will store (new entries, edited
        ones, those that failed before), oldest first, while nothing is written
        yet; the entries loop then takes them as they come in."""
        orders = []
        for entry in reversed(feed_entries):
            if not self.wants_page(feed, entry, tally):
                continue
            seen = self.seen(feed_id, entry)
            if seen is not None and seen["error"] is None:
                if seen["article_id"] is None or not _edited(entry, seen):
                    continue
            elif seen is not None and seen["failures"] >= ENTRY_TRIES:
                continue
            elif seen is None or seen["error"] is not None:
                article_id, known = entries.known_url(self.store, self.canonical(feed_id, entry, tally))
                if article_id or known:
                    continue
            orders.append(_page_order(feed, entry, tally))
        return self.parts.reader.read_pages(orders, self.parts.stop)

    def _save(
        self,
        feed_id: int,
        entry: FeedEntry,
        canonical: str,
        title: str,
        body: _Body,
        assessed: Assessment,
        no_alert: str | None = None,
        feed_tags: Sequence[str] = (),
    ) -> tuple[int, int]:
        matches = assessed.matches
        now = self.parts.clock()
        stamp = now.isoformat()
        digested = body.digest()
        chash, fingerprint = digested.content_hash, digested.fingerprint
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
                no_alert=no_alert if matches else None,
                detected_language=assessed.detected,
                language_confidence=assessed.confidence,
                meaning_error=assessed.problem,
            )
            searchindex.put(self.store, article_id, title, body.text)
            story_id = self.stories.attach(article_id, placement, title=title, now=now)
            _record_similarities(self.store, article_id, assessed, stamp)
            queued = self._record_matches(article_id, story_id, matches, now, no_alert, feed_tags)
            self._insert_entry(feed_id, entry, canonical, article_id)
        return 1, queued

    def _record_matches(
        self,
        article_id: int,
        story_id: int,
        matches: Sequence[RuleMatch],
        now: datetime,
        no_alert: str | None = None,
        feed_tags: Sequence[str] = (),
    ) -> int:
        """Store an article's matches (replacing older ones) and queue its alerts:
        a story alerts when it first matches anything; a member matching a rule
        the story had not matched alerts again only with [alerts] notify_new_rules,
        and a story already alerted alerts once more when it spreads (see
        :mod:`watcher.notify.spread`). ``no_alert`` (baseline / too old): the
        matches are kept, nothing is queued."""
        match_rows.replace(self.store, article_id, [_new_match(m) for m in matches], now.isoformat())
        had_rules = self.stories.rules(story_id)
        new_rules = self.stories.add_rules(story_id, [m.rule_id for m in matches], now)
        if no_alert:
            return 0
        queued = 0
        if had_rules:  # a story already alerted: has it spread far enough to alert again?
            queued += spread.check(
                self.store,
                self.parts.matcher.rules,
                story_id=story_id,
                article_id=article_id,
                channels=self.parts.config.channels,
                now=now,
                feed_tags=feed_tags,
            )
        if not matches or not (not had_rules or (self.parts.config.alerts.notify_new_rules and new_rules)):
            return queued
        return queued + outbox.enqueue(
            self.store,
            story_id=story_id,
            article_id=article_id,
            matches=matches,
            channels=self.parts.config.channels,
            now=now,
            feed_tags=feed_tags,
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

    def record_failure(
        self, feed: FeedConfig, feed_id: int, entry: FeedEntry, exc: Exception, tally: Tally
    ) -> int:
        """Record on the entry why it failed (the poll goes on with the next one);
        returns how many times it has failed."""
        error = f"internal error: {type(exc).__name__}: {exc}"[:500]
        log.exception("%s: entry %s failed; going on with the next one", feed.url, entry.url or entry.guid)
        tally.entries_failed += 1
        tally.last_entry_error = error
        with self.store.atomic():
            return entries.record_failure(
                self.store,
                feed_id=feed_id,
                guid=entry.guid,
                url=entry.url,
                canonical_url=self.canonical(feed_id, entry, tally),
                first_seen=self.parts.clock().isoformat(),
                error=error,
            )

    def revise_if_edited(self, feed: FeedConfig, entry: FeedEntry, seen: dict, tally: Tally) -> int:
        """A known entry whose feed says it changed (a newer <updated> time, or
        another summary) is fetched again; if its text changed, the article is
        updated in place, re-matched, and keeps its story. Returns alerts queued."""
        revision = _revision(entry)
        if not _edited(entry, seen):
            return 0
        queued = 0
        if seen["article_id"] is not None:
            queued = self._revise(feed, entry, seen["article_id"], tally, _parsed_time(seen["first_seen"]))
        with self.store.atomic():
            entries.set_revision(self.store, seen["id"], **revision)
        return queued

    def _revise(
        self, feed: FeedConfig, entry: FeedEntry, article_id: int, tally: Tally, first_seen: datetime | None
    ) -> int:
        stored = articles.get(self.store, article_id)
        if stored is None:
            return 0  # pruned since the entry was read
        body = self._body(feed, entry, tally)
        if body.extraction == "summary" and stored["extraction"] == "full":
            return 0  # the page failed this time: keep the full text we have
        digested = body.digest()
        chash = digested.content_hash
        if chash == stored["content_hash"] and body.text == stored["text"]:
            return 0
        title = entry.title or body.title or stored["title"] or ""
        assessed = self._match(entry, title, body, body.language or stored["language"])
        matches = assessed.matches
        now = self.parts.clock()
        no_alert = self._no_alert(feed, entry, body, tally, first_seen or now)
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
                simhash=digested.fingerprint,
                no_alert=no_alert if matches else None,
                detected_language=assessed.detected,
                language_confidence=assessed.confidence,
                meaning_error=assessed.problem,
            )
            searchindex.put(self.store, article_id, title, body.text)
            _record_similarities(self.store, article_id, assessed, now.isoformat())
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
            return self._record_matches(article_id, stored["story_id"], matches, now, no_alert, feed.tags)


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


def _edited(entry: FeedEntry, seen: dict) -> bool:
    """The feed says a known entry changed: a newer <updated> time, or another summary."""
    revision = _revision(entry)
    newer = revision["updated"] and seen["updated"] and revision["updated"] > seen["updated"]
    resummarised = seen["summary_hash"] and revision["summary_hash"] != seen["summary_hash"]
    return bool(newer or resummarised)


def _page_failed(feed: FeedConfig, tally: Tally, error: str, summary: str, *, timeout: bool = False) -> _Body:
    """A page that could not be read: counted, logged (INFO), and the feed's summary kept."""
    tally.page_failed(error, timeout=timeout)
    log.info("%s: %s", feed.name, error)
    return _Body(summary, "summary", error)


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


def _new_match(m: RuleMatch) -> match_rows.NewMatch:
    closeness = m.similarity
    return match_rows.NewMatch(
        m.rule_id,
        m.title,
        m.severity,
        m.score,
        m.to_json()["hits"],
        via=m.via,
        similarity=closeness.score if closeness else None,
        similar_to=closeness.describe() if closeness else None,
        evidence=m.evidence,
    )


def _record_similarities(store: Store, article_id: int, assessed: Assessment, now: str) -> None:
    embeddings.replace(
        store,
        article_id,
        [
            embeddings.Scored(
                s.rule_id,
                s.closeness.score,
                s.closeness.reference,
                s.closeness.unlike,
                s.closeness.unlike_reference,
                s.matched,
            )
            for s in assessed.scored
        ],
        assessed.vector,
        now,
    )
