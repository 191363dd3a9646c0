"""Running pipelines: one per worker thread, each reading on its own
connection, all writing through one :class:`~watcher.pipeline.writer.Writer`;
and ``run_once``, one recorded pass over every due feed."""

from __future__ import annotations

import functools
import heapq
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from watcher import health
from watcher.config import Config, FeedConfig
from watcher.errors import StoreError
from watcher.fetch.hosts import host_of
from watcher.pipeline.parts import Parts
from watcher.pipeline.poll import Pipeline, PollResult
from watcher.pipeline.writer import Writer
from watcher.sources import schedule as sources
from watcher.store import database, feeds
from watcher.store.database import Store

log = logging.getLogger("watcher.pipeline")


@dataclass(frozen=True)
class RunSummary:
    feeds_polled: int
    entries_new: int
    articles_stored: int
    alerts_queued: int
    errors: int
    results: tuple[PollResult, ...]

    @property
    def failed(self) -> tuple[PollResult, ...]:
        """The polls that did not read their feed (failing, throttled, gone, or not recorded)."""
        return tuple(r for r in self.results if r.status.trouble or not r.recorded)


class ThreadPipelines:
    """One :class:`Pipeline` per worker thread, each reading on its own
    database connection; their writes all go to one :class:`Writer` (made at
    the first poll, on a connection of its own), so no poll thread ever waits
    for SQLite's write lock."""

    def __init__(self, parts: Parts, open_store: Callable[[], Store]) -> None:
        self.parts = parts
        self.open_store = open_store
        self._local = threading.local()
        self._opened: list[Store] = []
        self._lock = threading.Lock()
        self._writer: Writer | None = None

    def writer(self, parts: Parts) -> Writer:
        """The one writer (made on first use), storing under ``parts``' config."""
        with self._lock:
            if self._writer is None:
                self._writer = Writer(self.open_store(), parts.config, parts.clock, parts.matcher.rules)
            writer = self._writer
        writer.configure(parts.config, parts.matcher.rules)
        return writer

    def poll(self, feed: FeedConfig, parts: Parts | None = None) -> PollResult:
        """Poll ``feed`` on this thread's pipeline (with ``parts``, e.g. after
        a reload; else the parts it was made with) and wait until its record is
        stored; a failure of the database itself becomes the poll's error,
        never the caller's exception."""
        result, recording = self.poll_nowait(feed, parts)
        if recording is not None and not recording.done() and self._writer is not None:
            self._writer.hurry()  # this thread waits for it now
        return settled(result, recording)

    def poll_nowait(
        self,
        feed: FeedConfig,
        parts: Parts | None = None,
        row: Mapping[str, Any] | None = None,
        *,
        hold: bool = False,
    ) -> tuple[PollResult, Future[None] | None]:
        """:meth:`poll`, without waiting for the poll's record (``row``: the
        feed's row, when the caller read it already): the poll's result as
        it will be once :func:`settled` with the future of its record (None:
        nothing was handed to the writer, the result is final). ``hold``: the
        writer may hold the record back (``Writer.record``) until :meth:`close`."""
        parts = parts or self.parts
        try:
            writer = self.writer(parts)
            pipeline = getattr(self._local, "pipeline", None)
            if pipeline is None:
                store = self.open_store()
                with self._lock:
                    self._opened.append(store)
                pipeline = self._local.pipeline = Pipeline(parts, store, writer)
            elif pipeline.parts is not parts:
                pipeline = self._local.pipeline = Pipeline(parts, pipeline.store, writer)
            return pipeline.poll_nowait(feed, row, hold=hold)
        except Exception as exc:
            return unrecorded(feed.url, exc), None

    def close(self) -> None:
        """Store what the polls handed in, then close every connection."""
        with self._lock:
            opened, self._opened = self._opened, []
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        for store in opened:
            store.close()


def poll_threads(config: Config) -> int:
    """Polls under way at once: ``[network] max_connections`` in this process,
    ``[workers] polls`` when workers elsewhere do the reading (a poll then
    mostly waits for them)."""
    return config.workers.polls if config.workers.distributed else config.network.max_connections


def poll_due(
    parts: Parts,
    open_store: Callable[[], Store],
    feeds: Sequence[FeedConfig],
    *,
    workers: int,
    rows: Mapping[str, Mapping[str, Any]] | None = None,
) -> RunSummary:
    """Poll ``feeds`` with ``workers`` threads, each on its own connection
    (``rows``: the feeds' rows by URL, read by the caller just before); one
    INFO line per feed as its record is stored. Each thread takes the next
    feed whose host has a poll free (:class:`_Turns`) when it is done with
    one, and no poll waits for its record (the writer stores records in
    groups; every one is stored before this returns)."""
    pipelines = ThreadPipelines(parts, open_store)
    polled: list[tuple[PollResult, Future[None] | None] | None] = [None] * len(feeds)
    turns = _Turns(feeds, None if parts.remote is not None else parts.config.network.per_host)
    info = log.isEnabledFor(logging.INFO)  # `run --once` prints its own summary

    def said(i: int, recording: Future[None]) -> None:  # in the writer's thread, once stored
        result = settled(*polled[i])  # type: ignore[misc]
        polled[i] = result, None
        log.info("%s", result.describe(feeds[i].name))

    def drain() -> None:
        while (i := turns.take()) is not None:
            feed = feeds[i]
            try:
                result, recording = polled[i] = pipelines.poll_nowait(
                    feed, row=rows.get(feed.url) if rows is not None else None, hold=True
                )
            finally:
                turns.done(i)
            if not info:
                continue
            if recording is None:
                log.info("%s", result.describe(feed.name))
            else:
                recording.add_done_callback(functools.partial(said, i))

    try:
        threads = max(1, min(workers, turns.at_once()))
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="poll") as pool:
            for done in [pool.submit(drain) for _ in range(threads)]:
                done.result()
    finally:
        pipelines.close()  # every record handed in is stored (or failed) by now
    return summarize([_final(*p) for p in polled if p is not None])


class _Turns:
    """Hands out feeds (their indices) so that at most ``per_host`` polls of one
    host are under way (None: no limit here: workers elsewhere read, under
    their own limits), as the daemon does: a thread
    never takes a feed only to wait for its host's request slot, while its
    request's deadline runs out; it takes the first feed, in the given order,
    of a host with a poll free, or waits until a poll ends."""

    def __init__(self, feeds: Sequence[FeedConfig], per_host: int | None) -> None:
        self._per_host = per_host
        self._hosts = [host_of(f.url) for f in feeds]
        self._waiting: dict[str, deque[int]] = {}  # each host's feeds not taken yet, in order
        for i, host in enumerate(self._hosts):
            self._waiting.setdefault(host, deque()).append(i)
        self._busy: Counter[str] = Counter()
        # (next feed, host) of every host with feeds waiting and a poll free: the next turn
        self._free = [(queue[0], host) for host, queue in self._waiting.items()]
        heapq.heapify(self._free)
        self._cond = threading.Condition()

    def at_once(self) -> int:
        """How many polls can be under way at once (at most ``per_host`` of one
        host): more threads would only wait for their turns."""
        if self._per_host is None:
            return len(self._hosts)
        return sum(min(self._per_host, len(queue)) for queue in self._waiting.values())

    def take(self) -> int | None:
        """The next feed to poll; None when every feed was taken."""
        with self._cond:
            while not self._free:
                if not self._waiting:
                    return None
                self._cond.wait()
            i, host = heapq.heappop(self._free)
            queue = self._waiting[host]
            queue.popleft()
            self._busy[host] += 1
            if not queue:
                del self._waiting[host]
            elif self._per_host is None or self._busy[host] < self._per_host:
                heapq.heappush(self._free, (queue[0], host))
            return i

    def done(self, i: int) -> None:
        """The poll of feed ``i`` is over (its record may still be on its way)."""
        host = self._hosts[i]
        with self._cond:
            self._busy[host] -= 1
            if (
                self._per_host is not None
                and self._busy[host] == self._per_host - 1
                and host in self._waiting
            ):
                heapq.heappush(self._free, (self._waiting[host][0], host))  # a poll of it came free
            self._cond.notify_all()


def settled(result: PollResult, recording: Future[None] | None) -> PollResult:
    """The poll's result once its record is stored (``recording`` done): as it
    was, or the poll's error when the database could not store the record."""
    if recording is None:
        return result
    try:
        recording.result()
    except Exception as exc:
        return unrecorded(result.feed, exc)
    return result


def _final(result: PollResult, recording: Future[None] | None) -> PollResult:
    """:func:`settled`, after the writer was closed: a record it has not stored never will be."""
    if recording is not None and not recording.done():
        return unrecorded(result.feed, StoreError("the writer stopped before it stored the poll's record"))
    return settled(result, recording)


def unrecorded(url: str, exc: Exception) -> PollResult:
    """The result of a poll that could not be recorded (``exc`` says why)."""
    if database.unwritable(exc):  # logged once by the caller, not a traceback per feed
        log.debug("%s: could not record the poll: %s", url, exc)
    else:
        log.exception("%s: could not record the poll", url, exc_info=exc)
    return PollResult(
        url,
        health.Outcome(health.ERROR, error=f"could not record the poll: {type(exc).__name__}: {exc}"),
        health.Status.FAILING,
        recorded=False,
        database_error=str(exc) if database.unwritable(exc) else None,
    )


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
    due = sources.due_rows(store, config.feeds, now, healthy_too=True)
    summary = poll_due(
        parts,
        open_store,
        [feed for feed, _ in due],
        workers=poll_threads(config),
        rows={feed.url: row for feed, row in due},
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
