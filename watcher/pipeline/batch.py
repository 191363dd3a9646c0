"""What a poll hands the writer (:mod:`watcher.pipeline.writer`): each entry's
writes, prepared by the poll's own thread (page fetched, text extracted and
folded once, rules matched, content hash and SimHash made), and the poll's
record, which goes after its entries. Plain frozen values: whoever prepares
them (a poll thread here, a remote worker later) hands the same thing to the
one writer, and gets back what was stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from watcher.match.matcher import Assessment, RuleMatch
from watcher.parse.feed import FeedEntry
from watcher.text.fold import Normalised


@dataclass(frozen=True)
class Body:
    """An entry's text: the article page's, else the feed's summary."""

    text: str
    extraction: str  # 'full' or 'summary'
    error: str | None
    title: str | None = None
    author: str | None = None
    published: str | None = None
    language: str | None = None
    derived: Mapping[str, object] | None = None  # computed with the text, in the extraction worker


@dataclass(frozen=True)
class Folded:
    """An article's title and text folded once, and what dedup made of the text:
    every consumer (matcher, search index, content hash, SimHash, story
    placement) reads these, none folds again."""

    title: Normalised
    text: Normalised
    content_hash: str | None
    simhash: int | None


@dataclass(frozen=True)
class NewArticle:
    """A new entry to store as an article (or, when its canonical URL turns out
    to be stored already, to record as an entry of that article)."""

    feed_id: int
    entry: FeedEntry
    canonical: str
    title: str
    body: Body
    assessment: Assessment  # the matcher's: matches, detected language, similarities
    no_alert: str | None  # why its matches must not alert (baseline / too old), or None
    folded: Folded
    seen_at: datetime
    feed_tags: tuple[str, ...] = ()  # its feed's tags (alerts are routed by them)

    @property
    def matches(self) -> tuple[RuleMatch, ...]:
        return self.assessment.matches


@dataclass(frozen=True)
class KnownEntry:
    """An entry whose article is stored already (through another feed, or under
    an older GUID), or was and has been pruned: only the entry is recorded."""

    feed_id: int
    entry: FeedEntry
    canonical: str
    article_id: int | None
    seen_at: datetime


@dataclass(frozen=True)
class RevisedArticle:
    """A stored article's new text: updated in place, matched again, kept in its story."""

    article_id: int
    story_id: int
    placement: tuple[int | None, str | None, float | None]  # duplicate_of, join_reason, join_similarity
    title: str
    summary: str
    body: Body
    assessment: Assessment
    no_alert: str | None
    folded: Folded
    at: datetime
    feed_tags: tuple[str, ...] = ()

    @property
    def matches(self) -> tuple[RuleMatch, ...]:
        return self.assessment.matches


@dataclass(frozen=True)
class Revision:
    """A known entry whose feed says it changed: its new revision marks, and the
    article's new text when the text did change."""

    feed_id: int
    entry: FeedEntry
    canonical: str
    entry_id: int  # its row in ``entries``
    seen_at: datetime
    article: RevisedArticle | None = None


@dataclass(frozen=True)
class EntryFailure:
    """An entry whose processing failed: recorded on its row, tried again later."""

    feed_id: int
    guid: str
    url: str | None
    canonical: str
    error: str
    seen_at: datetime


Item = NewArticle | KnownEntry | Revision | EntryFailure


@dataclass(frozen=True)
class PollRecord:
    """The end of one poll: the feed's new state (``feeds`` columns) and its line
    in ``polls``. Written after every entry handed in before it."""

    feed_id: int
    state: Mapping[str, Any]
    poll: Mapping[str, Any] = field(default_factory=dict)  # feeds.add_poll's keyword arguments

    def without_validators(self) -> PollRecord:
        """The same record, leaving the stored ETag and Last-Modified as they were
        (an entry could not be stored: the next poll must read the feed again)."""
        state = {k: v for k, v in self.state.items() if k not in ("etag", "last_modified")}
        return PollRecord(self.feed_id, state, self.poll)


@dataclass(frozen=True)
class Stored:
    """What the writer did with one item."""

    article_id: int | None = None  # the article stored, revised or linked to
    new: bool = False  # a new article row was stored
    alerts: int = 0  # alerts queued
    failed: str | None = None  # why it could not be stored (then recorded on the entry)
    tries: int = 0  # how many times the entry has failed so far


@dataclass(frozen=True)
class Committed:
    """What the writer did with a whole poll (:meth:`Writer.commit`)."""

    items: tuple[Stored, ...]
    validators_saved: bool  # False: an entry failed, the feed's ETag/Last-Modified were left as they were

    @property
    def articles_stored(self) -> int:
        return sum(s.new for s in self.items)

    @property
    def alerts_queued(self) -> int:
        return sum(s.alerts for s in self.items)

    @property
    def failures(self) -> tuple[Stored, ...]:
        return tuple(s for s in self.items if s.failed)


def revision(entry: FeedEntry) -> dict[str, str | None]:
    """What an entry's row remembers to notice a later edit."""
    updated = entry.updated
    digest = hashlib.blake2b(" ".join(entry.summary.split()).encode(), digest_size=12).hexdigest()
    return {"updated": updated.isoformat() if updated else None, "summary_hash": digest}


def edited(entry: FeedEntry, seen: Mapping[str, Any]) -> bool:
    """The feed says a known entry (its row ``seen``) changed: a newer <updated> time, or another summary."""
    marks = revision(entry)
    newer = marks["updated"] and seen["updated"] and marks["updated"] > seen["updated"]
    resummarised = seen["summary_hash"] and marks["summary_hash"] != seen["summary_hash"]
    return bool(newer or resummarised)
