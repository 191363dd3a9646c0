"""``watcher run``: poll due feeds until stopped.

A dispatcher thread looks for due feeds every few seconds; polls run in our own
thread pools, so that:

- the schedule is kept on the MONOTONIC clock (CLOCK_BOOTTIME where there is
  one, so a suspend counts as time that passed): each feed's next poll is
  "so many seconds after its last one ended", whatever the wall clock does.
  A wall-clock step (NTP, a VM restored from a snapshot, a wrong RTC at boot)
  is logged once and changes nothing else; the wall clock is only for what is
  shown and stored (``next_due``, ``last_polled``). At start the schedule is
  read from the stored ``next_due`` times;
- one feed is never polled twice at once, and at most ``[network] per_host``
  polls of one host are under way (its requests also share the fetch stage's
  host slots), so a host that hangs holds at most that many workers;
- a feed whose last poll ran into a deadline goes to a slow lane of its own
  (a quarter of ``max_connections``, at least one worker), so hung feeds
  never take the workers healthy feeds need;
- when the database cannot record a poll (disk full, I/O error), the feed's
  next poll is still pushed back (in memory, backing off as after an error):
  no feed is polled on every tick, and the condition is logged once, and
  once more when it clears;
- SIGTERM/SIGINT stop new polls and give the polls and alert sends under way
  at most ``--grace`` in all; then the caller exits even if one is stuck (every
  write is a transaction, so nothing committed is lost). The log ends with a
  "stopped" line;
- SIGHUP reloads the config and the rules (validated first; a broken edit is
  logged with its file and key and the running configuration stays): new
  feeds start, removed feeds stop, rules and channels switch between polls;
- SIGUSR1 logs what is loaded (also kept in ``meta.daemon`` for
  ``watcher status``);
- every hour the maintenance job prunes when due and checkpoints the WAL, and
  one INFO line sums up the hour. Polls that changed nothing log at DEBUG.

Hooks for a service manager (systemd's sd_notify): ``ready`` is called once
the daemon is set up, just before the dispatcher's first tick, ``heartbeat``
on every dispatcher tick, ``stopping`` when a stop begins.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from watcher import health
from watcher.config import Config, FeedConfig
from watcher.errors import WatcherError
from watcher.fetch.hosts import host_of
from watcher.notify.operator import CHECK_EVERY
from watcher.pipeline import Parts, PollResult, ThreadPipelines
from watcher.review import retention
from watcher.sources import schedule as sources
from watcher.store import database, meta
from watcher.store.database import Store

log = logging.getLogger("watcher.daemon")

TICK_SECONDS = 10.0
GRACE_SECONDS = 20.0
MAINTAIN_EVERY = 3600.0  # prune when due, checkpoint the WAL
SUMMARY_EVERY = 3600.0  # one INFO line about the last hour
CLOCK_STEP = 30.0  # seconds the wall clock may move against the monotonic one before it is a step

Hook = Callable[[], None]


def boottime() -> float:
    """A monotonic clock that keeps counting through a suspend (Linux
    CLOCK_BOOTTIME), else ``time.monotonic``."""
    try:
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    except (AttributeError, OSError):
        return time.monotonic()


def tick_for(config: Config) -> float:
    """How often the dispatcher looks for due feeds: every 10 s, or more often
    when a feed's interval is shorter than 40 s."""
    shortest = min((f.interval for f in config.feeds), default=TICK_SECONDS * 4)
    return max(1.0, min(TICK_SECONDS, shortest / 4))


@dataclass(frozen=True)
class Loaded:
    """A configuration the daemon can switch to: what a reload returns."""

    parts: Parts
    sender: Any = None  # the alert sender for it (the same one when channels did not change)
    rules: int = 0  # how many rules are loaded


@dataclass
class _Hour:
    """What happened since the last summary line."""

    polls: int = 0
    feeds: set[str] = field(default_factory=set)
    new: int = 0
    stored: int = 0
    queued: int = 0
    failed: int = 0


class Daemon:
    def __init__(
        self,
        parts: Parts,
        *,
        open_store: Callable[[], Store],
        sender=None,
        tick: float | None = None,
        grace: float = GRACE_SECONDS,
        monotonic: Callable[[], float] = boottime,
        reload: Callable[[], Loaded] | None = None,
        heartbeat: Hook | None = None,
        ready: Hook | None = None,
        stopping: Hook | None = None,
    ) -> None:
        """``open_store`` opens another connection to the database (each poll
        thread and the maintenance job get their own). ``monotonic`` is the
        clock the schedule runs on; ``parts.clock`` (wall) is only written down.
        ``reload`` builds the parts for the config and rules as they are now
        on disk (raising a WatcherError that says what is wrong)."""
        self.parts = parts
        self.config: Config = parts.config
        self.open_store = open_store
        self.sender = sender
        self._fixed_tick = tick
        self.tick = tick or tick_for(parts.config)
        self.grace = grace
        self.monotonic = monotonic
        self._reloader = reload
        self._heartbeat, self._ready, self._stopping = heartbeat, ready, stopping
        self._in_flight: dict[str, Future] = {}
        self._next: dict[str, float] = {}  # feed url -> monotonic time of its next poll
        self._slow: set[str] = set()  # feeds whose last poll ran into a deadline
        self._unrecorded: dict[str, int] = {}  # feed url -> polls in a row the database did not take
        self._database_down: str | None = None
        self._only_entries_failed = True  # polls were recorded, only the entries were not
        self._hour = _Hour()
        self._skew: float | None = None
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._reload_wanted = threading.Event()
        self._report_wanted = threading.Event()
        self._loaded_at = parts.clock()
        self._rules = len(parts.matcher.rules.rules)
        self._pipelines = ThreadPipelines(parts, open_store)
        workers = self._workers = self.config.network.max_connections
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll")
        self._slow_pool = ThreadPoolExecutor(max_workers=max(1, workers // 4), thread_name_prefix="poll-slow")
        self._maintaining = threading.Lock()
        self._watching = threading.Lock()
        self._retired_senders: list[Any] = []

    # -- life cycle -------------------------------------------------------
    def run(self, *, install_signals: bool = True) -> bool:
        """Block until stop() or SIGTERM/SIGINT; the instance lock is already held.

        Returns False when polls or alert sends were still running at the end
        of the grace time: the caller should then exit the process at once
        (they hold no open transaction that matters: every write is atomic)."""
        if install_signals:
            self._install_signals()
        store = self.open_store()
        try:
            sources.sync(store, self.config.feeds, self.parts.clock())
        except Exception as exc:  # e.g. a full disk: poll what is known, say so once
            if not database.unwritable(exc):
                raise
            self._database_failed(str(exc))
        self._schedule(store, self.config.feeds)
        self._remember_loaded(store)
        dispatcher = threading.Thread(target=self._loop, args=(store,), name="dispatcher", daemon=True)
        if self.sender:
            self.sender.start()
        log.info(
            "watching %d feed(s) with %d rule(s) and %d channel(s); database %s",
            len(self.config.feeds),
            self._rules,
            len(self.config.channels),
            self.config.database,
        )
        _call(self._ready)  # before the first heartbeat
        dispatcher.start()
        try:
            self.parts.stop.wait()
        finally:
            finished = self._shut_down(dispatcher, store)
        return finished

    def _install_signals(self) -> None:
        def stop(*_: object) -> None:
            self.parts.stop.set()
            self._wake.set()

        def reload(*_: object) -> None:
            self._reload_wanted.set()
            self._wake.set()

        def report(*_: object) -> None:
            self._report_wanted.set()
            self._wake.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stop)
        signal.signal(signal.SIGHUP, reload)
        signal.signal(signal.SIGUSR1, report)

    def stop(self) -> None:
        self.parts.stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        """What SIGHUP does: reload before the next dispatch."""
        self._reload_wanted.set()
        self._wake.set()

    def _shut_down(self, dispatcher: threading.Thread, store: Store) -> bool:
        deadline = time.monotonic() + self.grace
        _call(self._stopping)
        log.info("stopping: waiting up to %.0f s for polls and alert sends under way", self.grace)
        self._wake.set()
        dispatcher.join(max(0.0, deadline - time.monotonic()))
        finished = self._drain(deadline)
        if finished:
            self._pipelines.close()
        sent = True
        for sender in [*self._retired_senders, self.sender]:
            if sender:
                sent = sender.stop(timeout=max(0.0, deadline - time.monotonic())) and sent
        if not sent:
            log.warning(
                "an alert send was still under way at the end of the %.0f s grace time; stopping "
                "anyway (that alert is sent again at the next start)",
                self.grace,
            )
        if not self._maintaining.acquire(blocking=False):
            finished = False  # a prune is under way on its own connection
        else:
            self._maintaining.release()
        store.close()
        log.info("stopped")
        return finished and sent

    def _drain(self, deadline: float) -> bool:
        """Wait for polls under way until ``deadline``; True if all ended."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._slow_pool.shutdown(wait=False, cancel_futures=True)
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
            except Exception:  # already recorded by the pipeline (or cancelled)
                pass
        return True

    # -- the dispatcher -----------------------------------------------------
    def _loop(self, store: Store) -> None:
        now = self.monotonic()
        next_maintenance, next_summary, next_watch = now, now + SUMMARY_EVERY, now
        while not self.parts.stop.is_set():
            try:
                if self._reload_wanted.is_set():
                    self._reload_wanted.clear()
                    self._reload(store)
                if self._report_wanted.is_set():
                    self._report_wanted.clear()
                    log.info("%s", self.report())
                self._check_clock()
                self._dispatch()
                now = self.monotonic()
                if now >= next_maintenance:
                    next_maintenance = now + MAINTAIN_EVERY
                    self._start_maintenance()
                if now >= next_summary:
                    next_summary = now + SUMMARY_EVERY
                    self._summarise()
                if now >= next_watch:
                    next_watch = now + CHECK_EVERY
                    self._start_watch()
                _call(self._heartbeat)
            except Exception:  # the dispatcher must outlive any bug in one tick
                log.exception("dispatching failed; trying again at the next tick")
            self._wake.wait(self.tick)
            self._wake.clear()

    def _schedule(self, store: Store, feeds: tuple[FeedConfig, ...] | list[FeedConfig]) -> None:
        """Put ``feeds`` on the monotonic schedule, each after the wait its stored
        ``next_due`` still asks for (gone feeds are not scheduled)."""
        now = self.monotonic()
        waits = sources.waits(store, feeds, self.parts.clock())
        with self._guard:
            for feed in feeds:
                wait = waits.get(feed.url, 0.0)
                if wait is None:
                    self._next.pop(feed.url, None)
                else:
                    self._next[feed.url] = now + wait

    def due(self) -> list[FeedConfig]:
        """Configured feeds whose next poll time has come, soonest first (a
        paused feed, ``enabled = false``, never is; it stays on the schedule so
        that a reload enabling it polls it at once)."""
        now = self.monotonic()
        with self._guard:
            due = [f for f in self.config.feeds if f.enabled and self._next.get(f.url, float("inf")) <= now]
            return sorted(due, key=lambda f: self._next[f.url])

    def _dispatch(self) -> None:
        if self.parts.stop.is_set():
            return
        parts, per_host = self.parts, self.config.network.per_host
        for feed in self.due():
            with self._guard:
                if feed.url in self._in_flight:
                    continue
                host = host_of(feed.url)
                if sum(host_of(u) == host for u in self._in_flight) >= per_host:
                    continue  # its host already has per_host polls under way
                pool = self._slow_pool if feed.url in self._slow else self._pool
                try:
                    future = pool.submit(self._poll, feed, parts)
                except RuntimeError:  # pool shut down: we are stopping
                    return
                self._in_flight[feed.url] = future
            future.add_done_callback(functools.partial(self._done, feed.url))

    def _done(self, url: str, _future: Future | None = None) -> None:
        with self._guard:
            self._in_flight.pop(url, None)
        self._wake.set()  # a host slot or a worker came free
        if self.sender:
            self.sender.wake()

    def _poll(self, feed: FeedConfig, parts: Parts) -> None:
        result = self._pipelines.poll(feed, parts)
        self._finished(feed, result)

    def _finished(self, feed: FeedConfig, result: PollResult) -> None:
        """Schedule the feed's next poll and say what changed."""
        delay = result.delay
        if not result.recorded:  # not even the poll could be written: back off in memory
            fails = self._unrecorded[feed.url] = self._unrecorded.get(feed.url, 0) + 1
            delay = health.backoff(feed.interval, fails)
        else:
            self._unrecorded.pop(feed.url, None)
        if result.database_error or not result.recorded:
            self._database_failed(result.database_error or result.outcome.error or "unknown error")
        elif not self._unrecorded and (result.articles_stored or not self._only_entries_failed):
            self._database_back()  # a poll wrote what the condition had kept out
        with self._guard:
            if delay is None:
                self._next.pop(feed.url, None)
            elif feed.url in self._next:  # (not when a reload removed the feed meanwhile)
                self._next[feed.url] = self.monotonic() + delay
            if result.outcome.timeouts:
                self._slow.add(feed.url)
            else:
                self._slow.discard(feed.url)
            hour = self._hour
            hour.polls += 1
            hour.feeds.add(feed.url)
            hour.new += result.outcome.entries_new
            hour.stored += result.articles_stored
            hour.queued += result.alerts_queued
            hour.failed += int(result.status.trouble or not result.recorded)
        self._log(feed, result)

    def _log(self, feed: FeedConfig, result: PollResult) -> None:
        line = result.describe(feed.name)
        if not result.recorded or result.database_error:
            log.debug("%s", line)  # the database condition is logged once, not per feed
        elif result.status.trouble:
            log.warning("%s", line)
        elif result.recovered or result.outcome.entries_new or result.alerts_queued:
            log.info("%s", line)
        else:
            log.debug("%s", line)

    def _database_failed(self, error: str) -> None:
        with self._guard:
            self._only_entries_failed = self._only_entries_failed and not self._unrecorded
            if self._database_down is not None:
                return
            self._database_down = error
            self._only_entries_failed = not self._unrecorded
        log.error(
            "the database cannot record polls (%s); feeds are polled again only after their "
            "back-off, as after an error, until it can (nothing already stored is lost)",
            error,
        )

    def _database_back(self) -> None:
        with self._guard:
            if self._database_down is None:
                return
            self._database_down = None
        log.warning("the database records polls again; polling as usual")

    # -- the wall clock ---------------------------------------------------
    def _check_clock(self) -> None:
        """Log a wall-clock step once; the schedule does not depend on it."""
        skew = self.parts.clock().timestamp() - self.monotonic()
        if self._skew is None:
            self._skew = skew
            return
        step = skew - self._skew
        if abs(step) > CLOCK_STEP:
            log.warning(
                "the system clock was set %s by %s; polling goes on by the monotonic clock "
                "(times shown and stored follow the new clock)",
                "forward" if step > 0 else "back",
                _span(abs(step)),
            )
            self._skew = skew

    # -- chores -----------------------------------------------------------
    def _start_maintenance(self) -> None:
        if self._maintaining.locked():
            return
        threading.Thread(target=self.maintain, name="maintenance", daemon=True).start()

    def _start_watch(self) -> None:
        if self._watching.locked():
            return
        threading.Thread(target=self.watch, name="operator-check", daemon=True).start()

    def watch(self) -> None:
        """The operator check (watcher.notify.operator), on a connection of its
        own; wakes the sender for the notices it queued."""
        from watcher.app import watch

        with self._watching:
            try:
                store = self.open_store()
            except Exception:
                log.exception("the operator check could not open the database")
                return
            try:
                if watch(store, self.config, self.parts.clock(), self.parts) and self.sender:
                    self.sender.wake()
            except Exception:  # never let the check die silently
                log.exception("the operator check failed")
            finally:
                store.close()

    def maintain(self) -> retention.Maintenance | None:
        """Prune when due (``[watcher] keep_days``) and checkpoint the WAL, on a
        connection of its own."""
        with self._maintaining:
            try:
                store = self.open_store()
            except Exception:
                log.exception("maintenance could not open the database")
                return None
            try:
                done = retention.maintain(store, self.config.keep_days, self.parts.clock())
            except Exception:  # never let maintenance die silently
                log.exception("maintenance failed")
                return None
            finally:
                store.close()
        if done.pruned and done.pruned.articles:
            log.info(
                "pruned %d unmatched article(s) fetched before %s (keep_days = %s)",
                done.pruned.articles,
                done.pruned.cutoff[:10],
                self.config.keep_days,
            )
        if done.checkpointed:
            log.debug("write-ahead log checkpointed and truncated (it held %d bytes)", done.wal_bytes)
        else:
            log.debug("write-ahead log not checkpointed: a reader still uses it; trying again later")
        return done

    def _summarise(self) -> None:
        with self._guard:
            hour, self._hour = self._hour, _Hour()
            trouble = self._database_down
        log.info(
            "last hour: %d poll(s) of %d feed(s), %d new entries, %d stored, %d alert(s) queued, "
            "%d failed poll(s)%s",
            hour.polls,
            len(hour.feeds),
            hour.new,
            hour.stored,
            hour.queued,
            hour.failed,
            f"; the database cannot record polls ({trouble})" if trouble else "",
        )

    # -- reloading ----------------------------------------------------------
    def _reload(self, store: Store) -> None:
        if self._reloader is None:
            log.warning("SIGHUP: this daemon cannot reload; restart it to apply changes")
            return
        try:
            loaded = self._reloader()
        except WatcherError as exc:
            log.error(
                "reload refused, still running on the configuration loaded at %s: %s", self._loaded_at, exc
            )
            return
        except Exception:
            log.exception("reload failed; still running on the configuration loaded at %s", self._loaded_at)
            return
        before = {f.url for f in self.config.feeds}
        config = loaded.parts.config
        after = {f.url for f in config.feeds}
        sources.sync(store, config.feeds, loaded.parts.clock())
        self._schedule(store, [f for f in config.feeds if f.url not in before])
        with self._guard:
            for url in before - after:
                self._next.pop(url, None)
                self._slow.discard(url)
            self.parts, self.config = loaded.parts, config
            self.tick = self._fixed_tick or tick_for(config)
        if config.network.max_connections != self._workers:
            log.warning("[network] max_connections changes take effect at the next start")
        if loaded.sender is not None and loaded.sender is not self.sender:
            old, self.sender = self.sender, loaded.sender
            if old is not None and not old.stop(timeout=self.grace):
                self._retired_senders.append(old)
            self.sender.start()
        self._rules = loaded.rules
        self._loaded_at = self.parts.clock()
        self._remember_loaded(store)
        log.info(
            "reloaded %s: %d feed(s) (%d new, %d removed), %d rule(s), %d channel(s)",
            config.path,
            len(config.feeds),
            len(after - before),
            len(before - after),
            self._rules,
            len(config.channels),
        )

    def report(self) -> str:
        """What is loaded and under way (SIGUSR1)."""
        with self._guard:
            running, slow = len(self._in_flight), len(self._slow)
            trouble = self._database_down
        return (
            f"loaded {self.config.path} at {self._loaded_at.isoformat(timespec='seconds')}: "
            f"{len(self.config.feeds)} feed(s), {self._rules} rule(s), channels: "
            f"{', '.join(c.name for c in self.config.channels) or 'none'}; {running} poll(s) under way, "
            f"{slow} feed(s) in the slow lane; database: "
            + (f"cannot record polls ({trouble})" if trouble else "ok")
        )

    def _remember_loaded(self, store: Store) -> None:
        """What is loaded, for ``watcher status`` (``meta.daemon``)."""
        record = {
            "pid": os.getpid(),
            "config": str(self.config.path),
            "loaded_at": self._loaded_at.isoformat(timespec="seconds"),
            "feeds": len(self.config.feeds),
            "rules": self._rules,
            "channels": [c.name for c in self.config.channels],
        }
        try:
            with store.atomic():
                meta.put(store, "daemon", json.dumps(record))
        except Exception as exc:  # the database may be full: not worth stopping for
            log.debug("could not record what is loaded: %s", exc)


_failing_hooks: set[int] = set()
_hooks_lock = threading.Lock()


def _call(hook: Hook | None) -> None:
    """Run a life-cycle hook; its failure is logged (once while it keeps failing:
    e.g. a heartbeat a full disk cannot store), never stops the daemon."""
    if hook is None:
        return
    try:
        hook()
    except Exception:
        with _hooks_lock:
            first = id(hook) not in _failing_hooks
            _failing_hooks.add(id(hook))
        if first:
            log.exception("a life-cycle hook failed (logged once until it works again)")
        else:
            log.debug("a life-cycle hook failed again", exc_info=True)
    else:
        with _hooks_lock:
            _failing_hooks.discard(id(hook))


def _span(seconds: float) -> str:
    if seconds >= 36 * 3600:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"
