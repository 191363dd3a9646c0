"""One new (or edited) entry: fetch its page, extract the text, match it,
place it in a story, store it and queue its alerts, in one transaction."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from watcher.config import FeedConfig
from watcher.dedup import identity, similarity
from watcher.dedup.story import Placement, Stories
from watcher.extract.extractor import ExtractionError
from watcher.fetch.client import FetchError
from watcher.match.matcher import Document, RuleMatch
from watcher.notify import outbox
from watcher.parse.feed import FeedEntry
from watcher.pipeline.parts import Parts
from watcher.store import articles, entries, searchindex
from watcher.store import matches as match_rows
from watcher.store.database import Store

PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


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


class Ingest:
    """Stores the entries of one feed poll, on the pipeline's connection."""

    def __init__(self, parts: Parts, store: Store) -> None:
        self.parts = parts
        self.store = store
        self.stories = Stories(store, parts.config.dedup, parts.clock)

    def seen(self, feed_id: int, entry: FeedEntry) -> dict | None:
        return entries.find(self.store, feed_id, entry.guid)

    def known(self, feed_id: int, entry: FeedEntry) -> bool:
        """Seen before in this feed, or the same article already stored through
        another feed or under an older GUID (then only the entry is recorded)."""
        if self.seen(feed_id, entry) is not None:
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

    def add(self, feed_id: int, feed: FeedConfig, entry: FeedEntry) -> tuple[int, int]:
        body = self._body(feed, entry)
        title = entry.title or body.title or ""
        matches = self._match(entry, title, body, body.language)
        canonical = self._canonical(feed_id, entry)
        try:
            return self._save(feed_id, entry, canonical, title, body, matches)
        except sqlite3.IntegrityError:
            # Another feed stored the same article a moment ago: link to it.
            if self.known(feed_id, entry):
                return 0, 0
            raise

    def _match(
        self, entry: FeedEntry, title: str, body: _Body, language: str | None
    ) -> tuple[RuleMatch, ...]:
        return self.parts.matcher.match(
            Document(
                id=entry.guid,
                title=title,
                text=body.text,
                summary=entry.summary,
                url=entry.url,
                language=language,
            )
        )

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

    def revise_if_edited(self, feed: FeedConfig, entry: FeedEntry, seen: dict) -> int:
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
        matches = self._match(entry, title, body, body.language or stored["language"])
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
