"""Delivering the outbox.

``drain(now)`` sends everything due and returns when done (``watcher run
--once``); ``start()`` runs drains in a background thread on its own database
connection, waking every few seconds or on ``wake()`` (the daemon), so a slow
SMTP server never delays a poll. Within a drain each channel works in its own
thread, so one slow or dead channel does not hold up another; every result is
committed as soon as it is known (``sent`` in its own transaction).

When a channel fails, the rest of its batch is not tried against it again in
the same drain: those rows are recorded as failed with the same error, and
back off together.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from watcher import message, outbox
from watcher.config import ChannelConfig, Config
from watcher.notifier import Delivery, Notifier
from watcher.redaction import Redactor
from watcher.store import Store

log = logging.getLogger("watcher.sender")

WAKE_EVERY = 5.0        # seconds between looks at the outbox when nothing wakes us
MAX_CHANNEL_THREADS = 8


@dataclass(frozen=True)
class DrainSummary:
    sent: int = 0
    failed: int = 0         # will be retried
    dead: int = 0
    digests: int = 0        # digest messages among ``sent`` deliveries

    def __str__(self) -> str:
        text = f"alerts: {self.sent} sent, {self.failed} failed (will retry), {self.dead} dead"
        return text + (f", {self.digests} digest message(s)" if self.digests else "")

    def __add__(self, other: "DrainSummary") -> "DrainSummary":
        return DrainSummary(self.sent + other.sent, self.failed + other.failed,
                            self.dead + other.dead, self.digests + other.digests)


@dataclass(frozen=True)
class _Job:
    channel: ChannelConfig
    ids: tuple[int, ...]            # one alert, or every alert of one digest
    message: message.Message
    digest: bool = False


class Sender:
    def __init__(self, store: Store, config: Config, clock: Callable[[], datetime], *,
                 rng: random.Random | None = None, wake_every: float = WAKE_EVERY,
                 batch: int = 100, timeout: float | None = None) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self.wake_every = wake_every
        self.batch = batch
        self.timeout = timeout
        self.redactor = Redactor.for_channels(config.channels)
        self._recovered = False
        self._limit_cache: dict[str, message.Limits] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- synchronous ----------------------------------------------------------
    def recover(self, db=None) -> int:
        """Rows left ``sending`` by a crash become pending (once per Sender)."""
        count = outbox.recover(db or self.store.db)
        self._recovered = True
        if count:
            log.warning("%d alert(s) were being sent when watcher stopped; they will be sent again", count)
        return count

    def drain(self, now: datetime | None = None, *, db=None) -> DrainSummary:
        """Send every alert due at ``now``; recovers crashed rows on first use."""
        db = db or self.store.db
        if not self._recovered:
            self.recover(db)
        now = now or self.clock()
        total = DrainSummary()
        while not self._stop.is_set():
            jobs = self._claim(db, now)
            if not jobs:
                break
            total = total + self._deliver(db, jobs)
        return total

    def _claim(self, db, now: datetime) -> list[_Job]:
        jobs: list[_Job] = []
        for channel_name, rows in outbox.claim_digests(db, now).items():
            job = self._digest_job(db, channel_name, rows)
            if job:
                jobs.append(job)
        for row in outbox.claim_immediate(db, now, limit=self.batch):
            job = self._alert_job(db, row)
            if job:
                jobs.append(job)
        return jobs

    def _channel(self, db, name: str, ids: list[int]) -> ChannelConfig | None:
        channel = self.config.channel(name)
        if channel is None:
            outbox.kill(db, ids, f"channel {name!r} is no longer in the configuration; add it back "
                                 "and run `watcher alerts retry --dead`")
        return channel

    def _alert_job(self, db, row: dict) -> _Job | None:
        channel = self._channel(db, row["channel"], [row["id"]])
        if channel is None:
            return None
        content = message.load_content(db, article_id=row["article_id"], story_id=row["story_id"],
                                       channel=channel)
        limits = self._limits(channel)
        return _Job(channel, (row["id"],), message.render(content, channel.format, limits))

    def _digest_job(self, db, name: str, rows: list[dict]) -> _Job | None:
        channel = self._channel(db, name, [r["id"] for r in rows])
        if channel is None:
            return None
        contents = [message.load_content(db, article_id=r["article_id"], story_id=r["story_id"],
                                         channel=channel) for r in rows]
        msg, count = message.render_digest(contents, channel.format, self._limits(channel),
                                           channel=channel.name)
        outbox.release(db, [r["id"] for r in rows[count:]])   # the rest go in the next message
        return _Job(channel, tuple(r["id"] for r in rows[:count]), msg, digest=True)

    def _notifier(self, channel: ChannelConfig) -> Notifier:
        kwargs = {"timeout": self.timeout} if self.timeout else {}
        return Notifier(channel, redactor=self.redactor, **kwargs)

    def _limits(self, channel: ChannelConfig) -> message.Limits:
        if channel.name not in self._limit_cache:
            self._limit_cache[channel.name] = self._notifier(channel).limits
        return self._limit_cache[channel.name]

    # -- delivering: one thread per channel, results committed here -------------
    def _deliver(self, db, jobs: list[_Job]) -> DrainSummary:
        by_channel: dict[str, list[_Job]] = {}
        for job in jobs:
            by_channel.setdefault(job.channel.name, []).append(job)
        results: queue.Queue = queue.Queue()
        workers = min(MAX_CHANNEL_THREADS, len(by_channel))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="alert") as pool:
            for channel_jobs in by_channel.values():
                pool.submit(self._send_channel, channel_jobs, results)
            summary = DrainSummary()
            for _ in range(len(jobs)):
                job, delivery = results.get()
                summary = summary + self._record(db, job, delivery)
        return summary

    def _send_channel(self, jobs: list[_Job], results: queue.Queue) -> None:
        """Send one channel's jobs in order; exactly one result per job is queued."""
        done = 0
        try:
            notifier = self._notifier(jobs[0].channel)
            for job, delivery in self._attempts(notifier, jobs):
                results.put((job, delivery))
                done += 1
        except Exception as exc:  # never leave the collector waiting
            for job in jobs[done:]:
                results.put((job, Delivery(False, self.redactor.scrub_exception(exc))))

    def _attempts(self, notifier: Notifier, jobs: list[_Job]):
        failure: Delivery | None = None
        for job in jobs:
            if self._stop.is_set():
                yield job, None
                continue
            if failure is None:
                delivery = notifier.send(job.message)
                failure = None if delivery.ok else delivery
            else:
                delivery = Delivery(False, f"not tried: the channel failed just before ({failure.detail})")
            yield job, delivery

    def _record(self, db, job: _Job, delivery: Delivery | None) -> DrainSummary:
        if delivery is None:
            outbox.release(db, job.ids)
            return DrainSummary()
        digests = int(job.digest)
        if delivery.ok:
            outbox.mark_sent(db, job.ids, self.clock())
            log.info("alert %s sent to %s: %s", ",".join(map(str, job.ids)), job.channel.name, delivery.detail)
            return DrainSummary(sent=len(job.ids), digests=digests)
        statuses = outbox.mark_failed(db, job.ids, delivery.detail, self.clock(), self.config.alerts, self.rng)
        dead = statuses.count(outbox.DEAD)
        log.warning("alert %s to %s failed%s: %s", ",".join(map(str, job.ids)), job.channel.name,
                    " for the last time (now dead)" if dead else "", delivery.detail)
        return DrainSummary(failed=len(job.ids) - dead, dead=dead)

    # -- background -------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="sender", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the thread to finish; True if it did within ``timeout``."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _loop(self) -> None:
        store = Store.open(self.store.path, migrate=False)
        try:
            self.recover(store.db)
            while not self._stop.is_set():
                try:
                    self.drain(self.clock(), db=store.db)
                except Exception:  # a bug must not end delivery; logged, secrets masked
                    log.exception("sending alerts failed; will try again")
                self._wake.wait(self.wake_every)
                self._wake.clear()
        finally:
            store.close()
