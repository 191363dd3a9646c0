"""Delivering the outbox.

Every channel is delivered by its own worker on its own database connection,
so a slow or dead channel (an SMTP server that takes a minute per mail) holds
up neither the other channels nor polling:

- ``drain(now)`` runs one pass of every channel's worker in parallel and
  returns when all are done (``watcher run --once``);
- ``start()`` runs each channel's worker in a background thread that looks at
  the outbox every few seconds, or at once on ``wake()`` (the daemon).

Each result is committed as soon as it is known (``sent`` in its own
transaction). When a channel fails, the rest of its batch is not tried again
in the same pass: those rows are recorded as failed with the same error and
back off together.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from watcher.config import ChannelConfig, Config
from watcher.notify import message, outbox
from watcher.notify.notifier import Delivery, Notifier
from watcher.notify.redaction import Redactor
from watcher.notify.webhook import Post, Webhook
from watcher.store import alerts
from watcher.store.database import Store

log = logging.getLogger("watcher.sender")

WAKE_EVERY = 5.0  # seconds between looks at the outbox when nothing wakes us


@dataclass(frozen=True)
class DrainSummary:
    sent: int = 0
    failed: int = 0  # will be retried
    dead: int = 0
    digests: int = 0  # digest messages delivered
    errors: int = 0  # channels whose pass broke off (logged; their alerts wait)

    def __str__(self) -> str:
        text = f"alerts: {self.sent} sent, {self.failed} failed (will retry), {self.dead} dead"
        text += f", in {self.digests} digest message(s)" if self.digests else ""
        return text + (f"; {self.errors} channel(s) could not be served (see the log)" if self.errors else "")

    def __add__(self, other: DrainSummary) -> DrainSummary:
        return DrainSummary(
            self.sent + other.sent,
            self.failed + other.failed,
            self.dead + other.dead,
            self.digests + other.digests,
            self.errors + other.errors,
        )


@dataclass(frozen=True)
class _Job:
    ids: tuple[int, ...]  # one alert, or every alert of one digest
    message: message.Message
    digest: bool = False


class Sender:
    def __init__(
        self,
        store: Store,
        config: Config,
        clock: Callable[[], datetime],
        *,
        rng: random.Random | None = None,
        wake_every: float = WAKE_EVERY,
        batch: int = 50,
        timeout: float | None = None,
        post: Post | None = None,
    ) -> None:
        """``post`` delivers the structured alerts of ``format = "json"``
        channels (the guarded HTTP client's POST, handed in by the caller)."""
        self.post = post
        self.store = store
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self.wake_every = wake_every
        self.batch = batch
        self.timeout = timeout
        self.redactor = Redactor.for_channels(config.channels)
        self._recovered = False
        self._stop = threading.Event()
        self._wakes: list[threading.Event] = []
        self._threads: list[threading.Thread] = []
        self._rng_lock = threading.Lock()

    # -- start-up ----------------------------------------------------------------
    def recover(self) -> int:
        """Rows left ``sending`` by a crash become pending; rows of channels no
        longer configured become dead. Once per Sender, before any send."""
        count = alerts.recover(self.store)
        self._recovered = True
        if count:
            log.warning("%d alert(s) were being sent when watcher stopped; sending them again", count)
        known = {c.name for c in self.config.channels}
        for name in alerts.channels_with_rows(self.store):
            if name not in known:
                ids = alerts.pending_ids(self.store, name)
                alerts.kill(
                    self.store,
                    ids,
                    f"channel {name!r} is no longer in the configuration; "
                    "add it back and run `watcher alerts retry --dead`",
                )
        return count

    # -- synchronous: watcher run --once --------------------------------------------
    def drain(self, now: datetime | None = None) -> DrainSummary:
        """Send every alert due at ``now``, all channels in parallel."""
        if not self._recovered:
            self.recover()
        now = now or self.clock()
        channels = self.config.channels
        if not channels:
            return DrainSummary()
        with ThreadPoolExecutor(max_workers=min(len(channels), 16), thread_name_prefix="alerts") as pool:
            results = list(pool.map(lambda c: self._pass_on_own_connection(c, now), channels))
        total = DrainSummary()
        for result in results:
            total = total + result
        return total

    def _pass_on_own_connection(self, channel: ChannelConfig, now: datetime) -> DrainSummary:
        try:
            store = Store.open(self.store.path, migrate=False)
            try:
                return self.channel_pass(store, channel, now)
            finally:
                store.close()
        except Exception:  # e.g. the database stayed locked: logged (secrets masked); alerts wait
            log.exception("sending alerts to %s broke off; they will be sent on the next run", channel.name)
            return DrainSummary(errors=1)

    def channel_pass(self, store: Store, channel: ChannelConfig, now: datetime) -> DrainSummary:
        """Send ``channel``'s due alerts (digest first), batch after batch."""
        total = DrainSummary()
        notifier = (
            Webhook(channel, self.post, redactor=self.redactor)
            if channel.format == "json"
            else Notifier(
                channel, redactor=self.redactor, **({"timeout": self.timeout} if self.timeout else {})
            )
        )
        while not self._stop.is_set():
            jobs = list(self._claim(store, channel, notifier, now))
            if not jobs:
                break
            total = total + self._deliver(store, channel, notifier, jobs)
        return total

    def _claim(
        self, store: Store, channel: ChannelConfig, notifier: Notifier | Webhook, now: datetime
    ) -> Iterator[_Job]:
        for rows in alerts.claim_digests(store, now, channel=channel.name).values():
            job = self._built(
                store, [r["id"] for r in rows], partial(self._digest, store, channel, notifier, rows)
            )
            if job:
                yield job
        for row in alerts.claim_immediate(store, now, channel=channel.name, limit=self.batch):
            job = self._built(store, [row["id"]], partial(self._immediate, store, channel, notifier, row))
            if job:
                yield job

    def _immediate(
        self, store: Store, channel: ChannelConfig, notifier: Notifier | Webhook, row: dict
    ) -> _Job:
        return _Job(
            (row["id"],),
            message.render(
                message.load_content(
                    store, article_id=row["article_id"], story_id=row["story_id"], channel=channel
                ),
                channel.format,
                notifier.limits,
                page_base=self.config.serve.page_url,
            ),
        )

    def _digest(
        self, store: Store, channel: ChannelConfig, notifier: Notifier | Webhook, rows: list[dict]
    ) -> _Job:
        contents = [
            message.load_content(store, article_id=r["article_id"], story_id=r["story_id"], channel=channel)
            for r in rows
        ]
        msg, count = message.render_digest(contents, channel.format, notifier.limits, channel=channel.name)
        alerts.release(store, [r["id"] for r in rows[count:]])  # these go in the next message
        return _Job(tuple(r["id"] for r in rows[:count]), msg, digest=True)

    def _built(self, store: Store, ids: list[int], build: Callable[[], _Job]) -> _Job | None:
        """The job, or None after recording why its message could not be built."""
        try:
            return build()
        except Exception as exc:  # a bad row must not leave its alert stuck in 'sending'
            log.exception("could not build the message for alert(s) %s", ids)
            with self._rng_lock:
                outbox.mark_failed(
                    store,
                    ids,
                    "could not build the message: " + self.redactor.scrub_exception(exc),
                    self.clock(),
                    self.config.alerts,
                    self.rng,
                )
            return None

    def _deliver(
        self, store: Store, channel: ChannelConfig, notifier: Notifier | Webhook, jobs: list[_Job]
    ) -> DrainSummary:
        summary, failure = DrainSummary(), None
        for job in jobs:
            if self._stop.is_set():
                alerts.release(store, job.ids)
                continue
            if failure is None:
                delivery = notifier.send(job.message)
                failure = None if delivery.ok else delivery
            else:
                delivery = Delivery(False, "not tried, the channel had just failed: " + failure.detail)
            summary = summary + self._record(store, channel, job, delivery)
        return summary

    def _record(self, store: Store, channel: ChannelConfig, job: _Job, delivery: Delivery) -> DrainSummary:
        ids = ",".join(map(str, job.ids))
        if delivery.ok:
            alerts.mark_sent(store, job.ids, self.clock())
            log.info("alert %s sent to %s: %s", ids, channel.name, delivery.detail)
            return DrainSummary(sent=len(job.ids), digests=int(job.digest))
        with self._rng_lock:
            statuses = outbox.mark_failed(
                store, job.ids, delivery.detail, self.clock(), self.config.alerts, self.rng
            )
        dead = statuses.count(outbox.DEAD)
        log.warning(
            "alert %s to %s failed%s: %s",
            ids,
            channel.name,
            " for the last time (now dead)" if dead else "",
            delivery.detail,
        )
        return DrainSummary(failed=len(job.ids) - dead, dead=dead)

    # -- background: the daemon ------------------------------------------------------
    def start(self) -> None:
        """One thread per channel; returns at once."""
        if self._threads:
            return
        self._stop.clear()
        if not self._recovered:
            self.recover()
        for channel in self.config.channels:
            wake = threading.Event()
            thread = threading.Thread(
                target=self._loop, args=(channel, wake), name=f"alerts-{channel.name}", daemon=True
            )
            self._wakes.append(wake)
            self._threads.append(thread)
            thread.start()

    def wake(self) -> None:
        for wake in self._wakes:
            wake.set()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the workers to finish; True if all did within ``timeout``. A send
        under way is not interrupted (its row is recovered at the next start)."""
        self._stop.set()
        self.wake()
        threads, self._threads, self._wakes = self._threads, [], []
        for thread in threads:
            thread.join(timeout)
        return not any(t.is_alive() for t in threads)

    @staticmethod
    def _unstick(store: Store, channel: ChannelConfig) -> None:
        """This worker is the only sender for its channel: what it left
        ``sending`` goes back to pending (as after a crash) instead of waiting
        for the next start-up."""
        try:
            alerts.recover(store, channel=channel.name)
        except Exception:
            log.exception("could not return %s's alerts to pending; the next start will", channel.name)

    def _loop(self, channel: ChannelConfig, wake: threading.Event) -> None:
        store = Store.open(self.store.path, migrate=False)
        try:
            while not self._stop.is_set():
                try:
                    self.channel_pass(store, channel, self.clock())
                except Exception:  # a bug must not end delivery; logged with secrets masked
                    log.exception("sending alerts to %s broke off; will try again", channel.name)
                    self._unstick(store, channel)
                wake.wait(self.wake_every)
                wake.clear()
        finally:
            store.close()
