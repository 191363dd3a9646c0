"""The one writer: a thread that owns the write connection and stores what
the polls prepared (:mod:`watcher.pipeline.batch`).

Poll threads never write and so never queue on SQLite's write lock: they
fetch, parse, extract, fold and match, hand each entry's writes to
:meth:`Writer.submit`, and go on. The writer takes whatever has been handed
in (up to ``group`` items, from any number of polls; while busy, waiting up
to ``linger`` seconds for more: see FULL) and stores it in ONE
transaction, each entry inside a savepoint of its own: an entry that fails
(a bug, a row no one expected) is rolled back alone and recorded on its
entry row, the others are kept; a failure of the database itself (disk full,
I/O error, locked past the busy timeout) fails the whole group, and every
poll that handed something in sees it. A kill at any moment leaves the last
committed group: never half an entry.

Everything is decided here that depends on what is stored (which story an
article joins, whether its canonical URL is stored already, whether a story
alerts), so two feeds carrying the same article at once still make one
article in one story.

A poll's record (the feed's new state: ETag, Last-Modified, health; its line
in ``polls``) goes through :meth:`Writer.record` after its entries, so the
validators are never saved before the entries they cover. :meth:`Writer.commit`
takes a whole poll at once (its items and its record, in one transaction) and
leaves the stored validators alone when an entry could not be stored: the
interface for polls prepared elsewhere (remote workers).

    writer = Writer(Store.open(path), config, clock)
    futures = writer.submit([item, ...])        # -> [Future[Stored]], in order
    writer.record(PollRecord(...)).result()     # after the entries
    writer.record(PollRecord(...), hold=True)   # the same, stored with others (see HOLD)
    writer.wait(future)                         # future.result(), without the writer lingering
    writer.keep_vectors(model, rows, now)       # embeddings' cache rows, no one waits for them
    writer.commit(items, record).result()       # -> Committed, all at once
    writer.close()                              # stores what was handed in, then stops
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from watcher.config import Config
from watcher.dedup.story import Placement, Stories
from watcher.errors import StoreError
from watcher.match.matcher import Assessment, RuleMatch
from watcher.match.ruleset import RuleSet
from watcher.notify import outbox, spread
from watcher.pipeline.batch import (
    Committed,
    EntryFailure,
    Item,
    KnownEntry,
    NewArticle,
    PollRecord,
    RevisedArticle,
    Revision,
    Stored,
    revision,
)
from watcher.store import articles, database, embeddings, entries, feeds, searchindex
from watcher.store import matches as match_rows
from watcher.store.database import Store
from watcher.text.fold import Normalised

log = logging.getLogger("watcher.pipeline")
T = TypeVar("T")

GROUP = 256  # items stored in one transaction, at most
# While polls keep it busy (it stored its last group less than BUSY seconds
# ago) and it holds fewer than FULL items, some of them entries, the writer
# waits up to LINGER seconds for more before it stores them: a commit, the
# search indexes' segments and every reading connection's page cache (dropped
# at each commit) are paid per transaction, and polls hand in about twenty
# entries at a time, full-text ones an article at a time as its page is read.
# No one is kept waiting by it: a poll about to wait for what it handed in
# says so (:meth:`Writer.hurry`) and the writer stores what it has at once;
# a lone poll (one feed, a test) is never kept waiting either.
FULL = 64
LINGER = 0.1
BUSY = 0.25
# Polls' records no one waits for (``Writer.record(hold=True)``: ``run --once``,
# where the run's result is read after the writer is closed) are handed to the
# thread this many at a time, so they share a transaction.
HOLD = 64


class Committer:
    """Applies prepared writes on a store, one item at a time, each atomic
    (a savepoint inside the caller's transaction, or its own transaction)."""

    def __init__(
        self, store: Store, config: Config, clock: Callable[[], datetime], rules: RuleSet | None = None
    ) -> None:
        self.store = store
        self.config = config
        self.rules = rules  # for alerts when a story spreads (the rules' ``spread`` settings)
        self.stories = Stories(store, config.dedup, clock)
        # Search index rows of the items applied so far (folded for search_index, as stored
        # for articles_fts), written by :meth:`index` at the end of the caller's
        # transaction; None: each item is indexed at once.
        self._index: list[tuple[int, Normalised, Normalised]] | None = None
        self._fts: list[tuple[int, str | None, str | None]] = []

    def defer_index(self) -> None:
        """Index the items' texts when :meth:`index` is called (inside the same
        transaction, after them), not item by item: FTS5 writes its pending
        index to disk at every later statement of the transaction, which cost
        more than storing the rest of the entry."""
        if self._index is None:
            self._index = []

    def index(self) -> None:
        """Index the texts of the items applied since the last call (deferred
        ones): call before the transaction that stored them ends."""
        if self._fts:
            rows, self._fts = self._fts, []
            articles.index_many(self.store, rows)
        if self._index:
            folded, self._index = self._index, []
            searchindex.put_many(self.store, folded)

    def index_dropped(self) -> None:
        """The caller's transaction was rolled back: forget what it would have indexed."""
        if self._index is not None:
            self._index, self._fts = [], []

    def configure(self, config: Config, rules: RuleSet | None = None) -> None:
        """Use ``config`` and ``rules`` (after a reload) for what comes next."""
        if rules is not None:
            self.rules = rules
        if config is not self.config:
            self.config = config
            self.stories.config = config.dedup

    def apply(self, item: Item) -> Stored:
        """Store one item; a failure of the item alone is rolled back and
        recorded on its entry (a failure of the database is raised)."""
        mark = (len(self._index), len(self._fts)) if self._index is not None else (0, 0)
        try:
            with self.store.atomic():
                return self._apply(item)
        except Exception as exc:
            if self._index is not None:
                del self._index[mark[0] :], self._fts[mark[1] :]  # rolled back: nothing of it is indexed
            if database.unwritable(exc) or isinstance(item, EntryFailure):
                raise
            return self._failed(item, exc)

    def _apply(self, item: Item) -> Stored:
        if isinstance(item, NewArticle):
            return self._save(item)
        if isinstance(item, KnownEntry):
            self._entry(item.feed_id, item.entry, item.canonical, item.article_id, item.seen_at)
            return Stored(article_id=item.article_id)
        if isinstance(item, Revision):
            return self._revision(item)
        return self._failure(item.feed_id, item.guid, item.url, item.canonical, item.error, item.seen_at)

    def keep_vectors(self, model: str, rows: Sequence[tuple[str, bytes]], now: str) -> None:
        """Keep embeddings in the cache, in a savepoint of their own: a cache row the
        database refuses is logged and left out (it is embedded again when needed),
        never the cause of a failed group."""
        try:
            with self.store.atomic():
                embeddings.put_many(self.store, model, rows, now)
        except Exception as exc:
            if database.unwritable(exc):
                raise
            log.warning("could not keep %d embedding(s) in the cache: %s", len(rows), exc)

    def record(self, record: PollRecord) -> None:
        """Store a poll's record, inside the caller's transaction (two statements
        that succeed or fail with it: no savepoint of their own)."""
        feeds.update_state(self.store, record.feed_id, dict(record.state))
        if record.poll:
            feeds.add_poll(self.store, record.feed_id, **record.poll)

    # -- the items -----------------------------------------------------------
    def _save(self, item: NewArticle) -> Stored:
        store, entry = self.store, item.entry
        # Stored since the poll looked: through another feed, or an earlier entry of this
        # poll with the same link. (The same entry twice in one poll is handed in once.)
        article_id, seen = entries.known_url(store, item.canonical)
        if article_id or seen:
            self._entry(item.feed_id, entry, item.canonical, article_id, item.seen_at)
            return Stored(article_id=article_id)
        now, body, folded = item.seen_at, item.body, item.folded
        placement = self.stories.place(
            canonical_url=item.canonical,
            content_hash=folded.content_hash,
            fingerprint=folded.simhash,
            now=now,
            text=folded.text if folded.simhash is not None else None,
            url_stored=False,  # known_url just found no article under it
        )
        story_id = self.stories.story_for(placement, title=item.title, now=now)
        article_id = articles.insert(
            store,
            feed_id=item.feed_id,
            url=entry.url or item.canonical,
            canonical_url=item.canonical,
            guid=entry.guid,
            title=item.title,
            author=entry.author or body.author,
            published=entry.published.isoformat() if entry.published else body.published,
            fetched_at=now.isoformat(),
            language=body.language or entry.language,
            summary=entry.summary,
            text=body.text,
            extraction=body.extraction,
            extraction_error=body.error,
            content_hash=folded.content_hash,
            simhash=folded.simhash,
            matched=bool(item.matches),
            no_alert=item.no_alert if item.matches else None,
            detected_language=item.assessment.detected,
            language_confidence=item.assessment.confidence,
            meaning_error=item.assessment.problem,
            story_id=story_id,
            duplicate_of=placement.duplicate_of,
            join_reason=placement.reason,
            join_similarity=placement.similarity,
            index=self._index is None,
        )
        if self._index is not None:
            self._fts.append((article_id, item.title, body.text))
        if placement.story_id is None:
            self.stories.opened(story_id, article_id)
        self._put_index(article_id, folded.title, folded.text)
        _record_similarities(store, article_id, item.assessment, now.isoformat())
        queued = self._matches(article_id, story_id, item.matches, now, item.no_alert, item.feed_tags)
        self._entry(item.feed_id, entry, item.canonical, article_id, now)
        return Stored(article_id=article_id, new=True, alerts=queued)

    def _revision(self, item: Revision) -> Stored:
        queued = 0
        if item.article is not None:
            queued = self._revise(item.article)
        entries.set_revision(self.store, item.entry_id, **revision(item.entry))
        return Stored(article_id=item.article.article_id if item.article else None, alerts=queued)

    def _revise(self, item: RevisedArticle) -> int:
        if not articles.exists(self.store, item.article_id):
            return 0  # pruned since the poll read it
        body, folded, now = item.body, item.folded, item.at
        articles.revise(
            self.store,
            item.article_id,
            title=item.title,
            text=body.text,
            summary=item.summary,
            extraction=body.extraction,
            extraction_error=body.error,
            content_hash=folded.content_hash,
            updated_at=now.isoformat(),
            matched=bool(item.matches),
            simhash=folded.simhash,
            no_alert=item.no_alert if item.matches else None,
            detected_language=item.assessment.detected,
            language_confidence=item.assessment.confidence,
            meaning_error=item.assessment.problem,
        )
        self._put_index(item.article_id, folded.title, folded.text)
        _record_similarities(self.store, item.article_id, item.assessment, now.isoformat())
        duplicate_of, reason, similarity = item.placement
        placement = Placement(item.story_id, duplicate_of, reason, similarity, article_id=item.article_id)
        self.stories.attach(item.article_id, placement, title=item.title, now=now)
        return self._matches(item.article_id, item.story_id, item.matches, now, item.no_alert, item.feed_tags)

    def _put_index(self, article_id: int, title: Normalised, text: Normalised) -> None:
        if self._index is None:
            searchindex.put(self.store, article_id, title, text)
        else:
            self._index.append((article_id, title, text))

    def _matches(
        self,
        article_id: int,
        story_id: int,
        matches: Sequence[RuleMatch],
        now: datetime,
        no_alert: str | None,
        feed_tags: Sequence[str] = (),
    ) -> int:
        """Store an article's matches (replacing older ones) and queue its alerts:
        a story alerts when it first matches anything; a member matching a rule
        the story had not matched alerts again only with [alerts] notify_new_rules,
        and a story already alerted alerts once more when it spreads (see
        :mod:`watcher.notify.spread`). ``no_alert`` (baseline / too old): the
        matches are kept, nothing is queued. (Replaced even for an article just
        inserted: rows deleted by another tool without foreign keys may have
        left rows under a reused id.)"""
        match_rows.replace(self.store, article_id, [_new_match(m) for m in matches], now.isoformat())
        had_rules = self.stories.rules(story_id)
        new_rules = self.stories.add_rules(story_id, [m.rule_id for m in matches], now)
        if no_alert:
            return 0
        queued = 0
        if had_rules and self.rules is not None:  # a story already alerted: has it spread far enough?
            queued += spread.check(
                self.store,
                self.rules,
                story_id=story_id,
                article_id=article_id,
                channels=self.config.channels,
                now=now,
                feed_tags=feed_tags,
            )
        if not matches or not (not had_rules or (self.config.alerts.notify_new_rules and new_rules)):
            return queued
        return queued + outbox.enqueue(
            self.store,
            story_id=story_id,
            article_id=article_id,
            matches=matches,
            channels=self.config.channels,
            now=now,
            feed_tags=feed_tags,
        )

    def _entry(self, feed_id: int, entry: Any, canonical: str, article_id: int | None, now: datetime) -> None:
        entries.add(
            self.store,
            feed_id=feed_id,
            guid=entry.guid,
            url=entry.url,
            canonical_url=canonical,
            article_id=article_id,
            first_seen=now.isoformat(),
            **revision(entry),
        )

    def _failure(
        self, feed_id: int, guid: str, url: str | None, canonical: str, error: str, now: datetime
    ) -> Stored:
        tries = entries.record_failure(
            self.store,
            feed_id=feed_id,
            guid=guid,
            url=url,
            canonical_url=canonical,
            first_seen=now.isoformat(),
            error=error,
        )
        return Stored(failed=error, tries=tries)

    def _failed(self, item: NewArticle | KnownEntry | Revision, exc: Exception) -> Stored:
        """An entry that could not be stored: rolled back, and its failure recorded instead."""
        error = f"internal error: {type(exc).__name__}: {exc}"[:500]
        log.error(
            "entry %s failed; going on with the next one (it is tried again at the next polls)",
            item.entry.url or item.entry.guid,
            exc_info=exc,
        )
        with self.store.atomic():
            return self._failure(
                item.feed_id, item.entry.guid, item.entry.url, item.canonical, error, item.seen_at
            )


@dataclass(frozen=True)
class _Poll:
    """A whole poll handed in at once (:meth:`Writer.commit`)."""

    items: tuple[Item, ...]
    record: PollRecord


@dataclass(frozen=True)
class _Vectors:
    """Embeddings to keep in the cache (``embeddings.put_many``'s arguments)."""

    model: str
    rows: tuple[tuple[str, bytes], ...]
    now: str


_STOP = object()
_HURRY = object()  # someone waits for what was handed in: store it now (Writer.hurry)


class Writer:
    """The thread that owns the write connection (see the module's docstring)."""

    def __init__(
        self,
        store: Store,
        config: Config,
        clock: Callable[[], datetime],
        rules: RuleSet | None = None,
        *,
        group: int = GROUP,
        linger: float = LINGER,
        busy: float = BUSY,
    ) -> None:
        self.store = store
        self.linger = linger
        self.busy = busy
        self._stored_at = float("-inf")  # when the last group was stored (time.monotonic())
        self.committer = Committer(store, config, clock, rules)
        self.committer.defer_index()  # once per group, after its items (see Committer.defer_index)
        self.group = max(1, group)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._guard = threading.Lock()
        self._held: list[tuple[PollRecord, Future[None]]] = []  # records no one waits for (HOLD)
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
        self._thread.start()

    def configure(self, config: Config, rules: RuleSet | None = None) -> None:
        """Store what comes next under ``config`` and ``rules`` (after a reload:
        channels, dedup, alerts, the rules' spread settings)."""
        self.committer.configure(config, rules)

    def submit(self, items: Sequence[Item]) -> list[Future[Stored]]:
        """Hand in entries' writes; each future gives what was stored (or raises
        the database's failure)."""
        futures: list[Future[Stored]] = [Future() for _ in items]
        self._put([(item, future) for item, future in zip(items, futures, strict=True)])
        return futures

    def record(self, record: PollRecord, *, hold: bool = False) -> Future[None]:
        """Hand in a poll's record: stored after everything handed in before it.
        With ``hold`` (no one waits for it), it waits here until :data:`HOLD`
        records are held (from any polls) or :meth:`close`
        is called, and they go to the thread at once: one transaction for
        many polls' records instead of one each."""
        future: Future[None] = Future()
        with self._guard:
            self._check_open()
            if not hold:
                self._queue.put((record, future))
                return future
            self._held.append((record, future))
            if len(self._held) >= HOLD:
                self._hand_held()
        return future

    def commit(self, items: Sequence[Item], record: PollRecord) -> Future[Committed]:
        """Hand in a whole poll: its entries, then its record, in one transaction;
        when an entry cannot be stored, the feed's stored ETag/Last-Modified
        stay as they were (so its next poll reads the feed again)."""
        future: Future[Committed] = Future()
        self._put([(_Poll(tuple(items), record), future)])
        return future

    def keep_vectors(self, model: str, rows: Sequence[tuple[str, bytes]], now: str) -> None:
        """Hand in embeddings to keep in the cache (from a poll's matching: the poll
        has its vectors already, and waits for nothing). After :meth:`close` they
        are dropped: a cache, embedded again when needed."""
        with self._guard:
            if not self._closed:
                self._queue.put((_Vectors(model, tuple(rows), now), Future()))

    def hurry(self) -> None:
        """Someone is about to wait for what was handed in: the writer stores what
        it holds now instead of lingering for more (LINGER)."""
        self._queue.put(_HURRY)

    def wait(self, future: Future[T]) -> T:
        """``future.result()`` of something handed in, hurrying the writer when it
        is not stored yet."""
        if not future.done():
            self.hurry()
        return future.result()

    def close(self, timeout: float | None = None) -> None:
        """Store what was handed in, stop the thread, close the connection."""
        with self._guard:
            if self._closed:
                return
            self._hand_held()
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.store.close()

    # -- the thread --------------------------------------------------------------
    def _put(self, work: list[tuple[Any, Future]]) -> None:
        with self._guard:
            self._check_open()
            for pair in work:
                self._queue.put(pair)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the writer is closed: nothing more can be stored")

    def _hand_held(self) -> None:
        """(Holding ``_guard``.) The held records go on the queue."""
        held, self._held = self._held, []
        for pair in held:
            self._queue.put(pair)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            if first is _HURRY:  # what its caller waited for is stored already
                continue
            group = [first]
            size = _size(first[0])
            # Busy (the last group was stored a moment ago) and holding entries: wait for more.
            busy = time.monotonic() - self._stored_at < self.busy
            until = time.monotonic() + self.linger
            while size < self.group:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    left = until - time.monotonic()
                    if size >= FULL or left <= 0 or not busy or not _entries(group):
                        break
                    try:  # a few more polls' items in the same transaction
                        more = self._queue.get(timeout=left)
                    except queue.Empty:
                        break
                if more is _HURRY:
                    break
                if more is _STOP:
                    stopping = True
                    break
                group.append(more)
                size += _size(more[0])
            self._store(group)
            self._stored_at = time.monotonic()

    def _store(self, group: list[tuple[Any, Future]]) -> None:
        results: list[Any] = []
        try:
            with self.store.atomic():
                for work, _ in group:
                    results.append(self._apply(work))
                self.committer.index()
        except BaseException as exc:  # the database failed: nothing of the group is stored
            self.committer.index_dropped()
            if not database.unwritable(exc):
                log.exception("the writer could not store %d item(s)", len(group))
            for _, future in group:
                future.set_exception(exc)
            return
        for (_, future), result in zip(group, results, strict=True):
            future.set_result(result)

    def _apply(self, work: Any) -> Any:
        if isinstance(work, PollRecord):
            return self.committer.record(work)
        if isinstance(work, _Vectors):
            return self.committer.keep_vectors(work.model, work.rows, work.now)
        if isinstance(work, _Poll):
            stored = tuple(self.committer.apply(item) for item in work.items)
            clean = not any(s.failed for s in stored)
            self.committer.record(work.record if clean else work.record.without_validators())
            return Committed(stored, clean)
        return self.committer.apply(work)


class DirectWriter:
    """:class:`Writer`'s interface, storing in the caller's thread on the
    caller's connection, one item per transaction: for one pipeline on its own
    (a tool, a test), where there is no thread to hand writes to."""

    def __init__(
        self, store: Store, config: Config, clock: Callable[[], datetime], rules: RuleSet | None = None
    ) -> None:
        self.store = store
        self.committer = Committer(store, config, clock, rules)

    def configure(self, config: Config, rules: RuleSet | None = None) -> None:
        self.committer.configure(config, rules)

    def submit(self, items: Sequence[Item]) -> list[Future[Stored]]:
        return [_done(self.committer.apply, item) for item in items]

    def record(self, record: PollRecord, *, hold: bool = False) -> Future[None]:
        def atomic(record: PollRecord) -> None:
            with self.store.atomic():
                self.committer.record(record)

        return _done(atomic, record)

    def commit(self, items: Sequence[Item], record: PollRecord) -> Future[Committed]:
        def whole(_: object) -> Committed:
            with self.store.atomic():
                stored = tuple(self.committer.apply(item) for item in items)
                clean = not any(s.failed for s in stored)
                self.committer.record(record if clean else record.without_validators())
            return Committed(stored, clean)

        return _done(whole, None)

    def keep_vectors(self, model: str, rows: Sequence[tuple[str, bytes]], now: str) -> None:
        self.committer.keep_vectors(model, rows, now)  # a transaction of their own

    def hurry(self) -> None:
        """Nothing is held back: each write is stored when handed in."""

    def wait(self, future: Future[T]) -> T:
        return future.result()

    def close(self, timeout: float | None = None) -> None:
        """Nothing to wait for (the connection is the caller's)."""


def _done(fn: Callable[[Any], Any], arg: Any) -> Future:
    future: Future = Future()
    try:
        future.set_result(fn(arg))
    except Exception as exc:
        future.set_exception(exc)
    return future


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


def _entries(group: list[tuple[Any, Future]]) -> bool:
    """Whether ``group`` holds entries (not only polls' records and cache rows)."""
    return any(not isinstance(work, (PollRecord, _Vectors)) for work, _ in group)


def _size(work: Any) -> int:
    return len(work.items) + 1 if isinstance(work, _Poll) else 1
