"""``watcher run``: poll due feeds forever under APScheduler 3.x.

APScheduler only ticks a dispatcher; polls run in our own thread pool so
that:
- one feed is never polled twice at once (an in-flight set, not APScheduler's
  max_instances, which skips with only a warning);
- a slow or hung poll never blocks later ticks or other feeds;
- after a suspend, the coalesced dispatcher polls each due feed once (no burst),
  and every feed's next poll is computed from the time it finished;
- SIGTERM/SIGINT stop new polls, let running ones finish entries already
  under way, and exit within the grace time. Every write is a transaction, so
  even a hard kill loses nothing that was committed.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler

from watcher.config import Config, FeedConfig
from watcher.pipeline import Parts, ThreadPipelines
from watcher.review import retention
from watcher.sources import schedule as sources
from watcher.store.database import Store

log = logging.getLogger("watcher.daemon")

TICK_SECONDS = 10.0
GRACE_SECONDS = 20.0


def tick_for(config: Config) -> float:
    """How often the dispatcher looks for due feeds: every 10 s, or more often
    when a feed's interval is shorter than 40 s."""
    shortest = min((f.interval for f in config.feeds), default=TICK_SECONDS * 4)
    return max(1.0, min(TICK_SECONDS, shortest / 4))


class Daemon:
    def __init__(
        self,
        parts: Parts,
        *,
        open_store: Callable[[], Store],
        sender=None,
        tick: float | None = None,
        grace: float = GRACE_SECONDS,
        heartbeat: Callable[[], None] | None = None,
        ready: Callable[[], None] | None = None,
        stopping: Callable[[], None] | None = None,
    ) -> None:
        """``open_store`` opens another connection to the database (each poll
        thread and the maintenance job get their own). ``ready`` is called once
        the scheduler runs, ``heartbeat`` on every tick of the scheduler loop
        (a wedged loop stops calling it), ``stopping`` when a shutdown begins:
        the service manager and the stored heartbeat hang on these."""
        self.parts = parts
        self.config: Config = parts.config
        self.open_store = open_store
        self.sender = sender
        self.tick = tick or tick_for(parts.config)
        self.grace = grace
        self.heartbeat, self.ready, self.stopping = heartbeat, ready, stopping
        self._in_flight: dict[str, Future] = {}
        self._guard = threading.Lock()
        self._pipelines = ThreadPipelines(parts, open_store)
        self._pool = ThreadPoolExecutor(
            max_workers=self.config.network.max_connections, thread_name_prefix="poll"
        )

    # -- life cycle -------------------------------------------------------
    def run(self, *, install_signals: bool = True) -> bool:
        """Block until stop() or SIGTERM/SIGINT; the instance lock is already held.

        Returns False when polls were still running at the end of the grace
        time: the caller should then exit the process at once (they hold no
        open transaction that matters: every write is atomic)."""
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.parts.stop.set())
        store = self.open_store()
        sources.sync(store, self.config.feeds, self.parts.clock())
        scheduler = BackgroundScheduler(
            timezone=timezone.utc,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        scheduler.add_job(
            self._dispatch,
            "interval",
            seconds=self.tick,
            args=[store],
            next_run_time=datetime.now(timezone.utc),
            id="dispatch",
        )
        if self.config.keep_days:
            scheduler.add_job(
                self._maintain,
                "interval",
                args=[self.config.keep_days],
                hours=6,
                next_run_time=datetime.now(timezone.utc),
                id="maintenance",
            )
        if self.sender:
            self.sender.start()
        scheduler.start()
        log.info("watching %d feed(s); database %s", len(self.config.feeds), self.config.database)
        _call(self.ready)
        try:
            self.parts.stop.wait()
        finally:
            _call(self.stopping)
            log.info("stopping: waiting up to %.0f s for polls under way", self.grace)
            scheduler.shutdown(wait=False)
            finished = self._drain()
            if finished:
                self._pipelines.close()
            if self.sender:
                self.sender.stop(timeout=max(1.0, self.grace / 2))
            store.close()
        return finished

    def _maintain(self, keep_days: float) -> None:
        """Prune unmatched articles past ``[watcher] keep_days``, on a connection of its own."""
        store = self.open_store()
        try:
            pruned = retention.prune(store, keep_days, self.parts.clock())
            if pruned.articles:
                log.info(
                    "pruned %d unmatched article(s) fetched before %s (keep_days = %s)",
                    pruned.articles,
                    pruned.cutoff[:10],
                    keep_days,
                )
        except Exception:  # never let maintenance kill the scheduler thread silently
            log.exception("pruning failed")
        finally:
            store.close()

    def stop(self) -> None:
        self.parts.stop.set()

    def _drain(self) -> bool:
        """Wait for polls under way, at most the grace time; True if all ended."""
        deadline = time.monotonic() + self.grace
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._guard:
            running = list(self._in_flight.values())
        for future in running:
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                left = sum(not f.done() for f in running)
                log.warning(
                    "%d poll(s) still running at the end of the %.0f s grace time; "
                    "stopping anyway (nothing committed is lost)",
                    left,
                    self.grace,
                )
                return False
            except Exception:  # already recorded by the pipeline
                pass
        return True

    # -- dispatching ------------------------------------------------------
    def _dispatch(self, store: Store) -> None:
        if self.parts.stop.is_set():
            return
        _call(self.heartbeat)
        for feed in sources.due(store, self.config.feeds, self.parts.clock()):
            with self._guard:
                if feed.url in self._in_flight:
                    continue
                try:
                    future = self._pool.submit(self._poll, feed)
                except RuntimeError:  # pool shut down: we are stopping
                    return
                self._in_flight[feed.url] = future
            future.add_done_callback(functools.partial(self._done, feed.url))

    def _done(self, url: str, _future: Future[None]) -> None:
        with self._guard:
            self._in_flight.pop(url, None)
        if self.sender:
            self.sender.wake()

    def _poll(self, feed: FeedConfig) -> None:
        result = self._pipelines.poll(feed)
        outcome = result.outcome
        if outcome.error:
            log.warning("%s: %s: %s", feed.name, result.status, outcome.error)
        else:
            log.info(
                "%s: %s, %d new, %d stored, %d alerts queued",
                feed.name,
                result.status,
                outcome.entries_new,
                result.articles_stored,
                result.alerts_queued,
            )


def _call(hook: Callable[[], None] | None) -> None:
    """Run a life-cycle hook; its failure is logged, never stops the scheduler."""
    if hook is None:
        return
    try:
        hook()
    except Exception:
        log.exception("a life-cycle hook failed")
