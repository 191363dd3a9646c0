"""Delivering the outbox.

Every channel is delivered by its own worker on its own database connection,
so a slow or dead channel (an SMTP server that takes a minute per mail) holds
up neither the other channels nor polling:

- ``drain(now)`` runs one pass of every channel's worker in parallel and
  returns when all are done (``watcher run --once``);
- ``start()`` runs each channel's worker in a background thread that looks at
  the outbox every few seconds, or at once on ``wake()`` (the daemon).

What goes out when (quiet hours, the hourly cap, digests, the circuit
breaker) is planned by :mod:`watcher.notify.outbox`. When a channel fails,
the rest of its batch is released untouched (no attempt spent) and waits
while one message at a time probes the channel.

Each result is committed as soon as it is known, and every change of a row's
state survives a busy database: it is retried (:func:`retry_busy`), and if
the database stays busy past all patience the worker keeps the change in
memory and makes it before it claims anything else, so a row is never left
``sending`` by a live worker and a sent alert is never sent again.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TypeVar

from watcher.config import ChannelConfig, Config
from watcher.errors import StoreError
from watcher.notify import message, outbox
from watcher.notify.notifier import Notifier
from watcher.notify.redaction import Redactor
from watcher.notify.webhook import Post, Webhook
from watcher.store import alerts, channels
from watcher.store.database import BUSY_PATIENCE, Store, is_busy, retry_busy

log = logging.getLogger("watcher.sender")

WAKE_EVERY = 5.0  # seconds between looks at the outbox when nothing wakes us
T = TypeVar("T")
Change = Callable[[Store], object]


@dataclass(frozen=True)
class DrainSummary:
    sent: int = 0
    failed: int = 0  # will be retried
    dead: int = 0
    digests: int = 0  # messages that carried several alerts (digests, folded, notices)
    errors: int = 0  # channels whose pass broke off (logged; their alerts wait)
    held: int = 0  # alerts waiting, untried, for a failing channel to answer again

    def __str__(self) -> str:
        text = f"alerts: {self.sent} sent, {self.failed} failed (will retry), {self.dead} dead"
        text += f", in {self.digests} digest message(s)" if self.digests else ""
        text += f"; {self.held} wait for a failing channel to answer again" if self.held else ""
        return text + (f"; {self.errors} channel(s) could not be served (see the log)" if self.errors else "")

    def __add__(self, other: DrainSummary) -> DrainSummary:
        return DrainSummary(
            self.sent + other.sent,
            self.failed + other.failed,
            self.dead + other.dead,
            self.digests + other.digests,
            self.errors + other.errors,
            self.held + other.held,
        )


@dataclass(frozen=True)
class _Job:
    ids: tuple[int, ...]  # one alert, or every alert of one message
    message: message.Message
    digest: bool = False


def _iso(stamp: datetime) -> str:
    return stamp.astimezone(timezone.utc).isoformat()


class _Unsettled(StoreError):
    """The database stayed busy: a state change waits in memory (see Sender._settle)."""


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
        busy_timeout: float | None = None,
        busy_patience: float = BUSY_PATIENCE,
    ) -> None:
        """``post`` delivers the structured alerts of ``format = "json"``
        channels (the guarded HTTP client's POST, handed in by the caller);
        ``busy_timeout``: seconds each statement of the workers' own
        connections waits for another writer; ``busy_patience``: how long a
        state change is retried before it is kept in memory."""
        self.post = post
        self.store = store
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self.wake_every = wake_every
        self.batch = batch
        self.timeout = timeout
        self.busy_timeout = busy_timeout
        self.busy_patience = busy_patience
        self.redactor = Redactor.for_channels(config.channels)
        self._recovered = False
        self._stop = threading.Event()
        self._wakes: list[threading.Event] = []
        self._threads: list[threading.Thread] = []
        self._rng_lock = threading.Lock()
        self._unsettled: dict[str, list[Change]] = defaultdict(list)  # per channel, in order

    def _open(self) -> Store:
        if self.busy_timeout is None:
            return Store.open(self.store.path, migrate=False)
        return Store.open(self.store.path, migrate=False, busy_timeout=self.busy_timeout)

    # -- start-up ----------------------------------------------------------------
    def recover(self) -> int:
        """Rows left ``sending`` by a crash become pending; rows of channels no
        longer configured become dead. Once per Sender, before any send."""
        count = retry_busy(lambda: alerts.recover(self.store), patience=self.busy_patience)
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
        channels_ = self.config.channels
        if not channels_:
            return DrainSummary()
        with ThreadPoolExecutor(max_workers=min(len(channels_), 16), thread_name_prefix="alerts") as pool:
            results = list(pool.map(lambda c: self._pass_on_own_connection(c, now), channels_))
        total = DrainSummary()
        for result in results:
            total = total + result
        return total

    def _pass_on_own_connection(self, channel: ChannelConfig, now: datetime) -> DrainSummary:
        try:
            store = self._open()
            try:
                summary = self.channel_pass(store, channel, now)
                if self._unsettled[channel.name] and not self._settle(store, channel):
                    log.error(
                        "the database stayed busy: %s's outbox could not be brought up to date; "
                        "alerts it shows as 'sending' are sent again by the next run",
                        channel.name,
                    )
                return summary
            finally:
                store.close()
        except Exception:  # e.g. the database stayed locked: logged (secrets masked); alerts wait
            log.exception("sending alerts to %s broke off; they will be sent on the next run", channel.name)
            return DrainSummary(errors=1)

    def channel_pass(self, store: Store, channel: ChannelConfig, now: datetime) -> DrainSummary:
        """Send ``channel``'s due messages, batch after batch, as
        :func:`outbox.plan` lays them out; while the channel is failing, only
        one message probes it, and only when its probe is due."""
        total = DrainSummary()
        if not self._settle(store, channel):
            return DrainSummary(errors=1)
        notifier = (
            Webhook(channel, self.post, redactor=self.redactor)
            if channel.format == "json"
            else Notifier(
                channel, redactor=self.redactor, **({"timeout": self.timeout} if self.timeout else {})
            )
        )
        claimed: list[int] = []  # rows this pass claimed and has not yet settled
        try:
            while not self._stop.is_set():
                breaker = channels.get(store, channel.name)
                probing = breaker.failing
                if probing and (breaker.next_probe or "") > _iso(now):
                    return total + DrainSummary(held=len(alerts.candidates(store, channel.name, now)))
                rows = alerts.candidates(store, channel.name, now, tried_too=probing)
                recent = (
                    alerts.messages_since(store, channel.name, now - outbox.HOUR)
                    if channel.max_per_hour
                    else []
                )
                batches = outbox.plan(
                    rows, channel, now, sent_last_hour=len(recent), probing=probing, limit=self.batch
                )
                jobs = [
                    job for batch in batches if (job := self._claim(store, channel, notifier, batch, claimed))
                ]
                if not jobs:
                    break
                summary, ok = self._deliver(store, channel, notifier, jobs, now)
                claimed.clear()  # each job is sent, failed or released (or that change waits in memory)
                total = total + summary
                if not ok:
                    return total + DrainSummary(held=len(alerts.candidates(store, channel.name, now)))
        except Exception as exc:
            if not (isinstance(exc, _Unsettled) or is_busy(exc)):
                raise
            if claimed:  # after the changes already waiting: what is still 'sending' goes back
                ids = tuple(claimed)
                self._unsettled[channel.name].append(lambda s: alerts.release(s, ids))
                self._settle(store, channel)
            log.warning(
                "the database is busy; %s's outbox is brought up to date before its next message",
                channel.name,
            )
            return total + DrainSummary(errors=1)
        return total

    # -- every change of a row's state survives a busy database ------------------------
    def _persist(self, store: Store, channel: ChannelConfig, change: Callable[[Store], T]) -> T:
        """Make ``change`` (one transaction), retrying while the database is
        busy; past all patience it is kept to be made before anything else
        (and _Unsettled raised to end the pass)."""
        try:
            return retry_busy(lambda: change(store), patience=self.busy_patience)
        except Exception as exc:
            if not is_busy(exc):
                raise
            self._unsettled[channel.name].append(change)
            raise _Unsettled() from exc

    def _settle(self, store: Store, channel: ChannelConfig) -> bool:
        """Make the changes a busy database refused earlier, in order; False
        if it is still busy (then nothing new may be claimed)."""
        waiting = self._unsettled[channel.name]
        while waiting:
            try:
                retry_busy(lambda: waiting[0](store), patience=self.busy_patience)
            except Exception as exc:
                if not is_busy(exc):
                    raise
                return False
            waiting.pop(0)
        return True

    # -- building messages --------------------------------------------------------------
    def _claim(
        self,
        store: Store,
        channel: ChannelConfig,
        notifier: Notifier | Webhook,
        batch: outbox.Batch,
        claimed: list[int],
    ) -> _Job | None:
        rows = retry_busy(
            lambda: alerts.claim(store, batch.ids, together=batch.together), patience=self.busy_patience
        )
        if not rows:
            return None
        ids = [r["id"] for r in rows]
        claimed.extend(ids)
        try:
            if batch.together or rows[0]["notice_id"] is not None:
                return self._together(store, channel, notifier, rows, batch.note)
            return self._immediate(store, channel, notifier, rows[0])
        except _Unsettled:
            raise
        except Exception as exc:  # a bad row must not leave its alert stuck in 'sending'
            log.exception("could not build the message for alert(s) %s", ids)
            error = "could not build the message: " + self.redactor.scrub_exception(exc)
            rng = self._own_rng()
            self._persist(
                store,
                channel,
                lambda s: outbox.mark_failed(s, ids, error, self.clock(), self.config.alerts, rng),
            )
            return None

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

    def _together(
        self, store: Store, channel: ChannelConfig, notifier: Notifier | Webhook, rows: list[dict], note: str
    ) -> _Job:
        """One message for ``rows``: a lone notice as itself, anything else as a
        digest; rows that do not fit go back to pending for the next message."""
        contents: list[message.Content] = [
            message.load_notice(store, r["notice_id"])
            if r["notice_id"] is not None
            else message.load_content(
                store, article_id=r["article_id"], story_id=r["story_id"], channel=channel
            )
            for r in rows
        ]
        if len(contents) == 1 and isinstance(contents[0], message.NoticeContent) and not note:
            return _Job((rows[0]["id"],), message.render_notice(contents[0], channel.format, notifier.limits))
        msg, count = message.render_digest(
            contents, channel.format, notifier.limits, channel=channel.name, note=note
        )
        rest = [r["id"] for r in rows[count:]]
        if rest:  # these go in the next message
            self._persist(store, channel, lambda s: alerts.release(s, rest))
        return _Job(tuple(r["id"] for r in rows[:count]), msg, digest=True)

    # -- sending ----------------------------------------------------------------------
    def _deliver(
        self,
        store: Store,
        channel: ChannelConfig,
        notifier: Notifier | Webhook,
        jobs: list[_Job],
        started: datetime,
    ) -> tuple[DrainSummary, bool]:
        """Send ``jobs`` (planned at ``started``) in order; stops at the first
        failure (the circuit opens, the rest are released untried). Returns
        (summary, all went)."""
        summary = DrainSummary()
        for index, job in enumerate(jobs):
            if self._stop.is_set():
                self._release(store, channel, jobs[index:])
                return summary, True
            delivery = notifier.send(job.message)
            now = self.clock()
            ids = ",".join(map(str, job.ids))
            if delivery.ok:
                self._sent(store, channel, job, now, started)
                log.info("alert %s sent to %s: %s", ids, channel.name, delivery.detail)
                summary = summary + DrainSummary(sent=len(job.ids), digests=int(job.digest))
                continue
            statuses, next_probe = self._failed(store, channel, job, delivery.detail, now)
            self._release(store, channel, jobs[index + 1 :])
            dead = statuses.count(outbox.DEAD)
            log.warning(
                "alert %s to %s failed%s: %s; the channel is tried again at %s, its other alerts wait",
                ids,
                channel.name,
                " for the last time (now dead)" if dead else "",
                delivery.detail,
                next_probe.strftime("%H:%M:%S UTC"),
            )
            return summary + DrainSummary(failed=len(job.ids) - dead, dead=dead), False
        return summary, True

    def _sent(
        self, store: Store, channel: ChannelConfig, job: _Job, now: datetime, started: datetime
    ) -> None:
        """``job`` went out: its rows are sent, and the circuit is closed (the
        channel's row is written when it was failing, and otherwise at most
        once a minute: a healthy channel costs one write per message)."""
        self._persist(store, channel, lambda s: alerts.mark_sent(s, job.ids, now))
        state = channels.get(store, channel.name)
        if not state.failing and (state.last_success or "") > _iso(now - timedelta(minutes=1)):
            return
        before = self._persist(store, channel, lambda s: channels.succeeded(s, channel.name, now=now))
        if before.failing:
            self._recovered_channel(store, channel, before, started)

    def _failed(
        self, store: Store, channel: ChannelConfig, job: _Job, error: str, now: datetime
    ) -> tuple[list[str], datetime]:
        """A try of ``job`` failed: the job's rows spend an attempt, the circuit
        opens (or stays open) until the next probe. Returns the rows' new
        statuses and when the channel is tried again."""
        rng = self._own_rng()
        statuses = self._persist(
            store, channel, lambda s: outbox.mark_failed(s, job.ids, error, now, self.config.alerts, rng)
        )
        failures = channels.get(store, channel.name).failures + 1
        next_probe = now + timedelta(seconds=outbox.probe_delay(failures, self.config.alerts, rng))
        self._persist(
            store,
            channel,
            lambda s: channels.failed(s, channel.name, now=now, next_probe=next_probe, error=error),
        )
        return statuses, next_probe

    def _recovered_channel(
        self, store: Store, channel: ChannelConfig, before: channels.ChannelHealth, now: datetime
    ) -> None:
        """The channel answers again. When the outage outlasted one probe, the
        alerts that failed during it are due at ``now`` (this pass sends them);
        a lone failure followed by a working probe was that alert's own
        trouble, and it keeps its backoff."""
        since = datetime.fromisoformat(before.failing_since or _iso(now))
        again = 0
        if before.failures > 1:
            again = self._persist(
                store, channel, lambda s: alerts.due_again(s, channel.name, tried_since=since, now=now)
            )
        log.log(
            logging.WARNING if before.failures > 1 else logging.INFO,
            "%s answers again after failing since %s (%d failed tries); %d alert(s) due now",
            channel.name,
            since.strftime("%Y-%m-%d %H:%M UTC"),
            before.failures,
            again,
        )

    def _own_rng(self) -> random.Random:
        """A generator for one failure's jitter, drawn from the shared one (the
        shared one is never used while a database change may wait)."""
        with self._rng_lock:
            return random.Random(self.rng.random())

    def _release(self, store: Store, channel: ChannelConfig, jobs: list[_Job]) -> None:
        """Claimed rows that were not tried go back to pending untouched."""
        ids = [i for job in jobs for i in job.ids]
        if ids:
            self._persist(store, channel, lambda s: alerts.release(s, ids))

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

    def _unstick(self, store: Store, channel: ChannelConfig) -> None:
        """This worker is the only sender for its channel: what it left
        ``sending`` goes back to pending (as after a crash) instead of waiting
        for the next start-up, unless a change it could not yet make (a sent
        alert not yet marked sent) says otherwise."""
        if self._unsettled[channel.name]:
            return
        try:
            retry_busy(lambda: alerts.recover(store, channel=channel.name), patience=self.busy_patience)
        except Exception:
            log.exception("could not return %s's alerts to pending; the next start will", channel.name)

    def _loop(self, channel: ChannelConfig, wake: threading.Event) -> None:
        store = self._open()
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
