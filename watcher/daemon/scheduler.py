"""``watcher run``: poll due feeds until stopped, under APScheduler 3.x.

APScheduler (a ``BackgroundScheduler``, UTC, each job ``max_instances=1``,
``coalesce=True``, ``misfire_grace_time=None``) runs the daemon's periodic
jobs in a small thread pool of its own:

- the dispatcher tick, every 10 s (more often when a feed's interval is
  shorter than 40 s): reload or report when a signal asked for it, hand the
  feeds that are due to the poll workers, store the heartbeat;
- maintenance, at start and then hourly: prune when due, checkpoint the WAL;
- the summary, one INFO line about the last hour;
- the operator check (``watcher.notify.operator``), at start and every 5 min.

APScheduler 3 decides when a job fires on the wall clock: it sleeps until
``datetime.now()`` reaches the job's next run time. On its own, a clock set
back by a day stalls every job for a day (agronholm/apscheduler#351, #752),
and one set forward fires the hourly jobs at once and makes the interval
trigger count every fire time it missed (#526, #1066: years of them hang
the process). So nothing here rests on those times:

- each feed's next poll is kept on the MONOTONIC clock (CLOCK_BOOTTIME where
  there is one, so a suspend counts as time that passed) inside the
  dispatcher: "so many seconds after its last poll ended", whatever the wall
  clock does; the wall clock is only for what is shown and stored
  (``next_due``, ``last_polled``). At start the schedule is read from the
  stored ``next_due`` times;
- each job has its due time on the monotonic clock too. A watchdog thread
  (waking every second on the monotonic clock, not through APScheduler)
  compares every job's next run time on APScheduler's clock with that due
  time and, when they disagree (a wall-clock step either way, a suspend),
  re-arms the job (``Job.modify(next_run_time=...)``, which wakes the
  scheduler). A job APScheduler fires early (the clock jumped forward
  before the watchdog saw it) does nothing; the trigger never counts more
  than one missed fire time. A step of the wall clock is logged once and
  changes nothing else;
- when a run of a job is skipped because the last one still runs
  (EVENT_JOB_MAX_INSTANCES) or is missed (EVENT_JOB_MISSED), an event
  listener logs it once, as one condition, and once more when the job runs
  again; APScheduler's own log lines pass only at ERROR;
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
- SIGTERM/SIGINT stop new polls and give the polls, jobs and alert sends
  under way at most ``--grace`` in all; then the caller exits even if one is
  stuck (every write is a transaction, so nothing committed is lost). The
  log ends with a "stopped" line;
- SIGHUP reloads the config and the rules (validated first; a broken edit is
  logged with its file and key and the running configuration stays): new
  feeds start, removed feeds stop, rules and channels switch between polls;
- SIGUSR1 logs what is loaded (also kept in ``meta.daemon`` for
  ``watcher status``). Polls that changed nothing log at DEBUG.

Hooks for a service manager (systemd's sd_notify): ``ready`` is called once
the daemon is set up, just before the first tick, ``heartbeat`` on every
tick, ``stopping`` when a stop begins.

This is the one module that imports APScheduler.
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
from datetime import datetime, timedelta, timezone
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.executors.pool import ThreadPoolExecutor as JobPool
from apscheduler.schedulers import base as scheduler_base
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from watcher import health
from watcher.config import Config, FeedConfig
from watcher.errors import WatcherError
from watcher.fetch.hosts import host_of
from watcher.notify.operator import CHECK_EVERY
from watcher.pipeline import Parts, PollResult, ThreadPipelines, poll_threads
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
WATCHDOG_EVERY = 1.0  # seconds between the watchdog's looks at the clocks and the jobs
REARM_SLACK = 1.0  # seconds a job's fire time may differ from its monotonic due time
JOB_WORKERS = 4  # APScheduler's pool: one per job, so a long prune holds up nothing

# The jobs, by APScheduler job id, with what they are called in the log.
TICK, MAINTENANCE, SUMMARY, OPERATOR = "tick", "maintenance", "summary", "operator-check"
JOB_NAMES = {
    TICK: "the dispatcher tick",
    MAINTENANCE: "maintenance",
    SUMMARY: "the hourly summary",
    OPERATOR: "the operator check",
}

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


@dataclass
class _Job:
    """One APScheduler job as the daemon keeps it: its period and its due time
    on the monotonic clock, and whether runs of it are being skipped."""

    every: float  # seconds between runs
    due: float  # monotonic time of its next run
    started: float | None = None  # monotonic start of the run under way
    again: bool = False  # (the tick) run once more at the end: it was asked for meanwhile
    skipped: int = 0  # runs APScheduler skipped or missed in this episode
    late: bool = False  # the episode was logged


class NoBacklogInterval(IntervalTrigger):
    """APScheduler's interval trigger, except after a jump of the clock
    APScheduler reads: there it gives the present as the next fire time
    instead of letting the scheduler enumerate every fire time it missed (a
    clock set forward by years would be millions of them). With coalesce the
    job then runs once."""

    __slots__ = ()

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        following = super().get_next_fire_time(previous_fire_time, now)
        if previous_fire_time is not None and following is not None and following < now:
            return now
        return following


class _SchedulerLog(logging.LoggerAdapter):
    """APScheduler's own log lines, under ``watcher.daemon``: only errors pass.
    Its INFO line per run would flood the log, and the runs it skips are
    logged by the daemon's event listener, once per episode."""

    def isEnabledFor(self, level: int) -> bool:
        return level >= logging.ERROR and self.logger.isEnabledFor(level)


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
        self._hooks = _Hooks()
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
        workers = self._workers = poll_threads(self.config)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll")
        self._slow_pool = ThreadPoolExecutor(max_workers=max(1, workers // 4), thread_name_prefix="poll-slow")
        self._maintaining = threading.Lock()
        self._watching = threading.Lock()
        self._ticking = threading.Lock()
        self._retired_senders: list[Any] = []
        self._nudged = threading.Event()  # the tick is wanted now (a worker came free, a signal)
        self._jobs: dict[str, _Job] = {}
        self._scheduler: Any = None

    # -- life cycle -------------------------------------------------------
    def run(self, *, install_signals: bool = True) -> bool:
        """Block until stop() or SIGTERM/SIGINT; the instance lock is already held.

        Returns False when polls, jobs or alert sends were still running at
        the end of the grace time: the caller should then exit the process at
        once (they hold no open transaction that matters: every write is atomic)."""
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
        if self.sender:
            self.sender.start()
        log.info(
            "watching %d feed(s) with %d rule(s) and %d channel(s); database %s",
            len(self.config.feeds),
            self._rules,
            len(self.config.channels),
            self.config.database,
        )
        self._hooks.call(self._ready)  # before the first heartbeat
        scheduler = self._start_scheduler(store)
        watchdog = threading.Thread(target=self._watchdog, name="clock-watchdog", daemon=True)
        watchdog.start()
        try:
            self.parts.stop.wait()
        finally:
            finished = self._shut_down(scheduler, watchdog, store)
        return finished

    def _start_scheduler(self, store: Store) -> Any:
        """APScheduler with the daemon's four jobs, each first due as its
        monotonic due time says."""
        scheduler = BackgroundScheduler(
            timezone=timezone.utc,
            logger=_SchedulerLog(log, {}),
            executors={"default": JobPool(JOB_WORKERS, pool_kwargs={"thread_name_prefix": "job"})},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        now = self.monotonic()
        self._jobs = {
            TICK: _Job(self.tick, now),
            MAINTENANCE: _Job(MAINTAIN_EVERY, now),
            SUMMARY: _Job(SUMMARY_EVERY, now + SUMMARY_EVERY),
            OPERATOR: _Job(CHECK_EVERY, now),
        }
        work: dict[str, Callable[[], Any]] = {
            TICK: functools.partial(self._tick, store),
            MAINTENANCE: self.maintain,
            SUMMARY: self._summarise,
            OPERATOR: self.watch,
        }
        scheduler.start()
        wall = self._scheduler_now()
        for name, job in self._jobs.items():
            scheduler.add_job(
                self._run_job,
                NoBacklogInterval(seconds=job.every, timezone=timezone.utc),
                args=(name, work[name]),
                id=name,
                name=JOB_NAMES[name],
                next_run_time=wall + timedelta(seconds=max(0.0, job.due - now)),
            )
        self._scheduler = scheduler
        return scheduler

    def _install_signals(self) -> None:
        def stop(*_: object) -> None:
            self.parts.stop.set()
            self._wake.set()

        def reload(*_: object) -> None:
            self._reload_wanted.set()
            self._nudge()

        def report(*_: object) -> None:
            self._report_wanted.set()
            self._nudge()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stop)
        signal.signal(signal.SIGHUP, reload)
        signal.signal(signal.SIGUSR1, report)

    def stop(self) -> None:
        self.parts.stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        """What SIGHUP does: reload at the next tick, which is asked for now."""
        self._reload_wanted.set()
        self._nudge()

    def _shut_down(self, scheduler: Any, watchdog: threading.Thread, store: Store) -> bool:
        deadline = time.monotonic() + self.grace
        self._hooks.call(self._stopping)
        log.info("stopping: waiting up to %.0f s for polls and alert sends under way", self.grace)
        self._wake.set()
        try:  # no job starts any more; the runs under way end on their own
            scheduler.remove_all_jobs()
            scheduler.shutdown(wait=False)
        except Exception:  # (not running: nothing to stop)
            log.debug("stopping the scheduler", exc_info=True)
        watchdog.join(max(0.0, deadline - time.monotonic()))
        ticked = _wait_for(self._ticking, deadline)
        finished = self._drain(deadline) and ticked
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
        for chore in (self._maintaining, self._watching):  # each on a connection of its own
            finished = _wait_for(chore, deadline) and finished
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

    # -- the jobs -----------------------------------------------------------
    def _run_job(self, name: str, work: Callable[[], Any]) -> None:
        """What APScheduler runs: ``work``, when the job is due on the monotonic
        clock, then its next due time. A job APScheduler fires early (its wall
        clock was set forward) does nothing and moves itself to its due time;
        the tick runs whenever it fires (early is harmless there)."""
        if self.parts.stop.is_set():
            return
        job = self._jobs[name]
        now = self.monotonic()
        with self._guard:
            early = name != TICK and now < job.due - max(REARM_SLACK, job.every / 100)
            if not early:
                job.due, job.started = now + job.every, now
        if early:
            self._arm(name, self._scheduler_now() + timedelta(seconds=job.due - now))
            log.debug(
                "%s fired %s early by APScheduler's clock; moved to its time",
                JOB_NAMES[name],
                _span(job.due - now),
            )
            return
        try:
            work()
        except Exception:  # a job must outlive any bug in one run
            log.exception("%s failed; it runs again at its next time", JOB_NAMES[name])
        finally:
            with self._guard:
                job.started = None
                if job.again:  # asked for after the tick's last look: due now
                    job.again, job.due = False, self.monotonic()
                    self._wake.set()
                skipped, job.skipped = job.skipped, 0
                logged, job.late = job.late, False
            if logged:
                log.warning(
                    "%s runs again: %d run(s) were skipped while one took %s",
                    JOB_NAMES[name],
                    skipped,
                    _span(self.monotonic() - now),
                )

    def _tick(self, store: Store) -> None:
        """The dispatcher tick: reload or report if a signal asked, hand the due
        feeds to the poll workers, store the heartbeat; once more if the tick
        was asked for while it ran."""
        with self._ticking:
            while True:
                try:
                    if self._reload_wanted.is_set():
                        self._reload_wanted.clear()
                        self._reload(store)
                    if self._report_wanted.is_set():
                        self._report_wanted.clear()
                        log.info("%s", self.report())
                    self._dispatch()
                except Exception:  # the tick must outlive any bug in one run
                    log.exception("dispatching failed; trying again at the next tick")
                self._hooks.call(self._heartbeat)
                with self._guard:
                    tick = self._jobs[TICK]
                    if not tick.again or self.parts.stop.is_set():
                        return
                    tick.again = False

    def _nudge(self) -> None:
        """Ask for the tick now (a host slot or a worker came free, a signal):
        the watchdog moves it, or the tick under way runs once more."""
        self._nudged.set()
        self._wake.set()

    def _skipped(self, event: Any) -> None:
        """APScheduler's listener for runs it skipped (the last one still runs)
        or missed: one logged condition per job, until it runs again."""
        job = self._jobs.get(event.job_id)
        if job is None:
            return
        now = self.monotonic()
        with self._guard:
            running = None if job.started is None else now - job.started
            if event.code == EVENT_JOB_MAX_INSTANCES and (running is None or running < job.every):
                return  # the run under way is young: a re-arm or a nudge raced its start
            job.skipped += 1
            first, job.late = not job.late, True
        if first:
            name = JOB_NAMES.get(event.job_id, event.job_id)
            if event.code == EVENT_JOB_MISSED:
                log.warning("%s missed its run time; it runs at its next one", name)
            else:
                log.warning(
                    "%s has been running for %s, longer than its %s period; its runs are "
                    "skipped until it ends",
                    name,
                    _span(running or 0.0),
                    _span(job.every),
                )

    # -- the watchdog -----------------------------------------------------------
    def _watchdog(self) -> None:
        """On the monotonic clock, whatever APScheduler's clock does: log a
        wall-clock step once, run the tick when asked for, and keep every job's
        next run time where its monotonic due time says."""
        while not self.parts.stop.is_set():
            self._wake.wait(WATCHDOG_EVERY)
            self._wake.clear()
            if self.parts.stop.is_set():
                return
            try:
                self._check_clock()
                if self._nudged.is_set():
                    self._nudged.clear()
                    now = self.monotonic()
                    with self._guard:
                        tick = self._jobs[TICK]
                        if tick.started is not None:
                            tick.again = True
                        else:
                            tick.due = min(tick.due, now)
                self._rearm()
            except Exception:  # the watchdog must outlive any bug in one look
                log.exception("the scheduler's watchdog failed; it looks again in a second")

    def _rearm(self) -> None:
        """Bring forward each job APScheduler would fire later than its
        monotonic due time (by more than REARM_SLACK): its clock was set back,
        the monotonic clock jumped (a suspend), or the tick was asked for. (A
        job it would fire early moves itself when it fires: see _run_job.)"""
        scheduler = self._scheduler
        if scheduler is None:
            return
        wall, now = self._scheduler_now(), self.monotonic()
        for name, job in self._jobs.items():
            planned = scheduler.get_job(name)
            if planned is None or planned.next_run_time is None:
                continue
            with self._guard:
                wanted = wall + timedelta(seconds=max(0.0, job.due - now))
            late = (planned.next_run_time - wanted).total_seconds()
            if late > REARM_SLACK:
                self._arm(name, wanted)
                log.debug("%s re-armed: APScheduler had it %s late", JOB_NAMES[name], _span(late))

    def _arm(self, name: str, when: datetime) -> None:
        """Set job ``name``'s next run time on APScheduler's clock (which wakes it)."""
        try:
            self._scheduler.modify_job(name, next_run_time=when)
        except Exception:  # stopping: the job is gone
            log.debug("could not move %s", JOB_NAMES[name], exc_info=True)

    def _scheduler_now(self) -> datetime:
        """The time on APScheduler's clock: what its scheduler reads to decide
        which jobs are due (``datetime.now`` as ``apscheduler.schedulers.base``
        names it), so the watchdog compares like with like."""
        now: datetime = scheduler_base.datetime.now(timezone.utc)
        return now

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
        self._nudge()  # a host slot or a worker came free
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
        if not result.recorded or result.database_error:
            level = logging.DEBUG  # the database condition is logged once, not per feed
        elif result.status.trouble:
            level = logging.WARNING
        elif result.recovered or result.outcome.entries_new or result.alerts_queued:
            level = logging.INFO
        else:
            level = logging.DEBUG
        if log.isEnabledFor(level):  # (the line is not even made when its level is off)
            log.log(level, "%s", result.describe(feed.name))

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
            tick = self._jobs.get(TICK)
            retick = tick is not None and tick.every != self.tick
            if tick is not None and retick:
                tick.every = self.tick
                tick.due = min(tick.due, self.monotonic() + self.tick)
        if retick and self._scheduler is not None:  # the watchdog re-arms it at its due time
            self._scheduler.modify_job(
                TICK, trigger=NoBacklogInterval(seconds=self.tick, timezone=timezone.utc)
            )
        if poll_threads(config) != self._workers:
            log.warning("[network] max_connections ([workers] polls) changes take effect at the next start")
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
            late = [f"{JOB_NAMES[n]}: {j.skipped} run(s) skipped" for n, j in self._jobs.items() if j.skipped]
        return (
            f"loaded {self.config.path} at {self._loaded_at.isoformat(timespec='seconds')}: "
            f"{len(self.config.feeds)} feed(s), {self._rules} rule(s), channels: "
            f"{', '.join(c.name for c in self.config.channels) or 'none'}; {running} poll(s) under way, "
            f"{slow} feed(s) in the slow lane; database: "
            + (f"cannot record polls ({trouble})" if trouble else "ok")
            + "".join(f"; {line}" for line in late)
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


class _Hooks:
    """Runs the life-cycle hooks; a hook's failure is logged (once while it keeps
    failing: e.g. a heartbeat a full disk cannot store), never stops the daemon."""

    def __init__(self) -> None:
        self._failing: set[int] = set()  # the ids of the hooks (held by the scheduler) failing now
        self._lock = threading.Lock()

    def call(self, hook: Hook | None) -> None:
        if hook is None:
            return
        try:
            hook()
        except Exception:
            with self._lock:
                first = id(hook) not in self._failing
                self._failing.add(id(hook))
            if first:
                log.exception("a life-cycle hook failed (logged once until it works again)")
            else:
                log.debug("a life-cycle hook failed again", exc_info=True)
        else:
            with self._lock:
                self._failing.discard(id(hook))


def _wait_for(lock: threading.Lock, deadline: float) -> bool:
    """Wait until whoever holds ``lock`` lets go, at most until ``deadline``."""
    if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
        return False
    lock.release()
    return True


def _span(seconds: float) -> str:
    if seconds >= 36 * 3600:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"
