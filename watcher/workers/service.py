"""``watcher worker``: reads feeds and pages for a ``watcher run`` elsewhere.

It takes fetch orders off the broker's ``feeds`` and ``pages`` queues and
answers each with a plain result on ``results``, reading through the same
guarded client, extraction pool (``[extraction] workers`` processes, idle
ones stopped) and bounds as ``watcher run`` does on its own
(:class:`watcher.pipeline.reader.LocalReader`). It has no database: the
log, the matching and the alerts stay with the one ``watcher run``.

An order is acknowledged only once its result is on the queue; a worker
killed before that leaves the order to another worker after the visibility
timeout. An order past its poll's deadline is dropped unread (the run no
longer waits for it). The worker beats every third of the visibility
timeout, which keeps its tasks its own and shows it in ``watcher status``.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from dataclasses import replace
from typing import Any

from watcher.pipeline.reader import FeedOrder, FeedRead, LocalReader, PageOrder
from watcher.workers import wire
from watcher.workers.broker import FEEDS, PAGES, RESULTS, Broker, BrokerError

log = logging.getLogger("watcher.workers")

_SEND_BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0)


class WorkerService:
    def __init__(
        self, broker: Broker, reader: LocalReader, *, threads: int, time_limit: float, grace: float
    ) -> None:
        """``time_limit``: Dramatiq's backstop per task; ``grace``: how long a stop
        waits for the tasks under way (a page's fetch and extraction deadlines)."""
        self.broker = broker
        self.reader = reader
        self.threads = threads
        self.time_limit = time_limit
        self.grace = grace
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.done = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._feeds = {f.url: f for f in reader.config.feeds}  # each source's kind and settings

    def run(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set, then let the tasks under way end."""
        serving = self.broker.serve(
            {FEEDS: self._handle, PAGES: self._handle}, threads=self.threads, time_limit=self.time_limit
        )
        log.info(
            "worker %s: reading feeds and pages for namespace %s with %d thread(s) and %d extraction process(es)",
            self.name,
            self.broker.namespace,
            self.threads,
            self.reader.extractor.workers,
        )
        beat_every = max(0.2, self.broker.visibility_timeout / 3)
        down = False
        try:
            while True:
                try:
                    serving.beat()
                    self.broker.worker_seen(self.name, self._info())
                    if down:
                        log.warning("worker %s: the broker answers again", self.name)
                    down = False
                except BrokerError as exc:
                    if not down:
                        log.error(
                            "worker %s: the broker cannot be reached (%s); waiting for it", self.name, exc
                        )
                    down = True
                if stop.wait(beat_every):
                    break
        finally:
            self._stop.set()
            serving.stop(timeout=self.grace)
            try:
                self.broker.worker_gone(self.name)
            except BrokerError:
                pass
            log.info("worker %s: stopped after %d task(s)", self.name, self.done)

    def _info(self) -> dict[str, Any]:
        return {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "threads": self.threads,
            "extraction": self.reader.extractor.workers,
            "done": self.done,
        }

    def _handle(self, body: dict[str, Any]) -> None:
        """One order: read, then put the result on the queue (the caller acks after)."""
        kind, token = str(body.get("kind")), str(body.get("token"))
        try:
            order = wire.read_order(kind, body.get("order") or {})
            expires = float(body["expires"])
        except (wire.WireError, KeyError, TypeError, ValueError) as exc:
            log.warning("worker %s: dropped an order that does not read (%s)", self.name, exc)
            return
        left = expires - time.time()
        if left <= 0:
            log.debug("worker %s: dropped an order past its poll's deadline (%s)", self.name, token)
            return
        try:
            self.broker.first_delivery(token)  # a second delivery counts as retried
        except BrokerError:
            pass  # only a count: the order is read all the same
        read: Any
        if isinstance(order, FeedOrder):
            order = replace(order, seconds=min(order.seconds, left))
            feed = self._feeds.get(order.url)
            if feed is None:
                read = FeedRead(
                    order.url,
                    0,
                    error=f"the worker {self.name} has no [[feeds]] with this url in its config; give "
                    "`watcher worker` the same config file as `watcher run`",
                )
            else:
                read = self.reader.read_feed(order, feed)
        else:
            assert isinstance(order, PageOrder)
            read = self.reader.read_page(replace(order, seconds=min(order.seconds, left)))
        self._reply({"kind": kind, "token": token, "worker": self.name, "result": wire.result(read)}, expires)
        with self._lock:
            self.done += 1

    def _reply(self, body: dict[str, Any], expires: float) -> None:
        """Put the result on the queue, retrying while the broker is away until
        the order's deadline; past it the run no longer waits (raise: Dramatiq
        retries the task, which is then dropped as expired)."""
        for attempt in itertools.count():
            try:
                self.broker.send(RESULTS, body)
                return
            except BrokerError:
                wait = _SEND_BACKOFF[min(attempt, len(_SEND_BACKOFF) - 1)]
                if time.time() + wait >= expires or self._stop.is_set():
                    raise
                time.sleep(wait)
