"""``watcher run``'s side of distributed mode: a :class:`Reader` whose feeds
and pages are read by ``watcher worker``s.

Each order gets a token (this run's id and a counter) and a future; a
consumer thread takes the results off the ``results`` queue and completes
the futures. A result whose token this run is not waiting for (a task done
twice, a result of a run that was restarted) is dropped: the commit path
never sees it twice, and entries are keyed as always, so nothing is stored
twice even if it did.

Losses are made good without waiting on timers:

- a worker killed mid-task: Dramatiq puts its tasks back once its heartbeat
  is older than ``[workers] visibility_timeout``, and another worker does
  them; the run just keeps waiting;
- Redis restarted (its run id changed, so queued orders and results may be
  gone): every order still unanswered is sent again, with the same token;
- the broker unreachable while an order is sent: sending is retried until
  the poll's deadline.

A poll never waits past its own deadline (``[network] poll_deadline``): an
unanswered feed read is that poll's error ("no worker answered"), an
unanswered page cuts the poll there, and the next poll reads the feed again.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from watcher.config import FeedConfig
from watcher.errors import WatcherError
from watcher.pipeline.reader import FeedOrder, FeedRead, PageBatch, PageOrder, PageRead
from watcher.workers import wire
from watcher.workers.broker import FEEDS, PAGES, RESULTS, Broker, BrokerError

log = logging.getLogger("watcher.workers")

WATCH_EVERY = 2.0  # seconds between looks at whether Redis restarted
_RESEND_BACKOFF = (0.2, 0.5, 1.0, 2.0)


@dataclass
class _Pending:
    queue: str
    body: dict[str, Any]
    future: Future


class RemoteReader:
    """Reads feeds and pages through the broker (see the module's docstring)."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._run = os.urandom(6).hex()
        self._count = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: str | None = None
        self._resend: set[str] = set()  # tokens to send again (Redis restarted)
        self._broker_down = False
        self.stale = 0  # results dropped: for no order this run is waiting on
        try:  # the Redis this run starts with: a restart, even a quick one, changes its run id
            self._server = broker.server_id()
        except BrokerError as exc:
            self._trouble(exc)  # known at the first look
        self._threads = [
            threading.Thread(target=self._consume, name="results", daemon=True),
            threading.Thread(target=self._watch, name="broker-watch", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        with self._lock:
            pending, self._pending = self._pending, {}
        for item in pending.values():
            item.future.cancel()

    # -- the Reader ------------------------------------------------------------------

    def read_feed(self, order: FeedOrder, feed: FeedConfig) -> FeedRead:
        """The worker reads ``feed`` by the settings of its own config's [[feeds]] of that url."""
        deadline = time.monotonic() + order.seconds
        token, future = self._order(FEEDS, wire.FEED, wire.order(wire.FEED, order), order.seconds)
        try:
            read = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except (FutureTimeout, _NotSent) as exc:
            self._forget(token)
            return FeedRead(order.url, 0, error=_unanswered("the feed", exc), timeout=True)
        assert isinstance(read, FeedRead)
        return read

    def read_pages(self, orders: Sequence[PageOrder], stop: threading.Event) -> PageBatch:
        return _RemoteBatch(self, orders, stop)

    # -- orders and results ----------------------------------------------------------------

    def _order(self, queue: str, kind: str, order: dict[str, Any], seconds: float) -> tuple[str, Future]:
        token = f"{self._run}:{next(self._count)}"
        body = {"kind": kind, "token": token, "expires": time.time() + seconds, "order": order}
        future: Future = Future()
        with self._lock:
            self._pending[token] = _Pending(queue, body, future)
        self._send(queue, body, deadline=time.monotonic() + seconds, future=future)
        return token, future

    def _send(self, queue: str, body: dict[str, Any], *, deadline: float, future: Future) -> None:
        """Send, retrying while the broker is away (a restart) until ``deadline``."""
        for attempt in itertools.count():
            try:
                self.broker.send(queue, body)
                return
            except BrokerError as exc:
                wait = _RESEND_BACKOFF[min(attempt, len(_RESEND_BACKOFF) - 1)]
                if time.monotonic() + wait >= deadline or self._stop.is_set():
                    future.set_exception(_NotSent(str(exc)))
                    return
                self._trouble(exc)
                time.sleep(wait)

    def _forget(self, token: str) -> None:
        with self._lock:
            self._pending.pop(token, None)

    def _consume(self) -> None:
        self.broker.consume(RESULTS, self._result, self._stop)

    def _result(self, body: dict[str, Any]) -> None:
        token = body.get("token")
        with self._lock:
            pending = self._pending.pop(token, None) if isinstance(token, str) else None
        if pending is None:
            self.stale += 1
            return
        try:
            read = wire.read_result(str(body.get("kind")), body.get("result") or {})
        except wire.WireError as exc:
            log.warning("a worker's result could not be read (%s); the order waits for its deadline", exc)
            return
        self._back()
        try:
            self.broker.count_results()
        except BrokerError:
            pass
        if not pending.future.done():  # (not already given up on)
            pending.future.set_result(read)

    def _watch(self) -> None:
        """Send every unanswered order again when Redis restarted (those that
        cannot be sent yet are tried again at each look)."""
        while not self._stop.wait(WATCH_EVERY):
            try:
                server = self.broker.server_id()
            except BrokerError as exc:
                self._trouble(exc)
                continue
            self._back()
            if self._server is not None and server != self._server:
                with self._lock:
                    self._resend = {t for t, p in self._pending.items() if not p.future.done()}
                log.warning(
                    "the broker restarted: sending its %d unanswered order(s) again "
                    "(results already stored are not stored twice)",
                    len(self._resend),
                )
                try:
                    self.broker.count_retried(len(self._resend))
                except BrokerError:
                    pass
            self._server = server
            self._resend_marked()

    def _resend_marked(self) -> None:
        for token in sorted(self._resend):
            with self._lock:
                item = self._pending.get(token)
            if item is None or item.future.done() or float(item.body["expires"]) <= time.time():
                self._resend.discard(token)
                continue
            try:
                self.broker.send(item.queue, item.body)
            except BrokerError as exc:
                self._trouble(exc)
                return  # the rest at the next look
            self._resend.discard(token)

    def _trouble(self, exc: Exception) -> None:
        if not self._broker_down:
            self._broker_down = True
            log.error(
                "the broker cannot be reached (%s); orders wait for it, each until its poll's deadline", exc
            )

    def _back(self) -> None:
        if self._broker_down:
            self._broker_down = False
            log.warning("the broker answers again")


class _NotSent(WatcherError):
    """The order could not be queued before its poll's deadline."""


def _unanswered(what: str, exc: BaseException) -> str:
    if isinstance(exc, _NotSent):
        return f"{what} could not be ordered: the broker cannot be reached ({exc})"
    return (
        f"no `watcher worker` read {what} within the poll's deadline ([network] poll_deadline); "
        "are workers running and reaching the broker? (`watcher status` shows the workers seen)"
    )


class _RemoteBatch:
    """A poll's pages, ordered at once; each waits at most until the poll's deadline."""

    def __init__(self, reader: RemoteReader, orders: Sequence[PageOrder], stop: threading.Event) -> None:
        self._reader = reader
        self._stop = stop
        self._futures: dict[str, tuple[str, Future, float]] = {}
        for order in orders:
            if order.url in self._futures:
                continue
            token, future = reader._order(PAGES, wire.PAGE, wire.order(wire.PAGE, order), order.seconds)
            self._futures[order.url] = (token, future, time.monotonic() + order.seconds)

    def get(self, url: str) -> PageRead | None:
        found = self._futures.get(url)
        if found is None:
            return None
        _, future, deadline = found
        while True:  # in slices, so that a stop (SIGTERM) ends the wait
            left = deadline - time.monotonic()
            if left <= 0 or self._stop.is_set():
                return PageRead(url, missing=True)
            try:
                read = future.result(timeout=min(left, 1.0))
            except FutureTimeout:
                continue
            except _NotSent:
                return PageRead(url, missing=True)
            assert isinstance(read, PageRead)
            return read

    def close(self) -> None:
        for token, future, _ in self._futures.values():
            if not future.done():
                self._reader._forget(token)
