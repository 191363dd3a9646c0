"""Host slots: at most ``[network] per_host`` requests at once to one host.

Feeds and article pages of one host share its slots, so a host that hangs
holds at most ``per_host`` connections (and the poll threads behind them);
the daemon also looks at :meth:`HostSlots.full` before it hands a feed of
that host to a worker, so the other workers stay free for other hosts.

A request that finds every slot of its host taken waits for one, but never
past its own deadline (the wait counts against it).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from watcher.errors import WatcherError


class NoSlot(WatcherError):
    """No slot of the host came free before the deadline (the client turns it into a FetchError)."""


def host_of(url: str) -> str:
    """The host a URL's requests count against (lower case; '' when there is none)."""
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""


class HostSlots:
    def __init__(self, per_host: int) -> None:
        if per_host < 1:
            raise ValueError(f"per_host must be at least 1, got {per_host}")
        self.per_host = per_host
        self._busy: dict[str, int] = {}
        self._lock = threading.Lock()
        # Hosts some request waits for: a freed slot wakes one waiter of its own host.
        self._queues: dict[str, _Queue] = {}

    def take(self, host: str, deadline: float) -> None:
        """Take one slot of ``host`` (as :func:`host_of` names it), waiting for
        one until ``deadline`` (a ``time.monotonic()`` time; past it, :class:`NoSlot`);
        :meth:`give_back` it when done."""
        with self._lock:
            if self._busy.get(host, 0) >= self.per_host:
                self._wait(host, deadline)
            self._busy[host] = self._busy.get(host, 0) + 1

    def give_back(self, host: str) -> None:
        with self._lock:
            left_busy = self._busy[host] - 1
            if left_busy:
                self._busy[host] = left_busy
            else:
                del self._busy[host]
            queue = self._queues.get(host)
            if queue is not None:
                queue.changed.notify()

    def _wait(self, host: str, deadline: float) -> None:
        """Wait (holding ``_lock``) until a slot of ``host`` is free, or raise NoSlot."""
        queue = self._queues.get(host)
        if queue is None:
            queue = self._queues[host] = _Queue(threading.Condition(self._lock))
        queue.waiting += 1
        try:
            while self._busy.get(host, 0) >= self.per_host:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NoSlot(host)
                queue.changed.wait(left)
        except NoSlot:
            if self._busy.get(host, 0) < self.per_host:
                queue.changed.notify()  # a wake-up this waiter took is passed on
            raise
        finally:
            queue.waiting -= 1
            if not queue.waiting:
                del self._queues[host]

    def full(self, url: str) -> bool:
        """Whether every slot of ``url``'s host is taken right now."""
        with self._lock:
            return self._busy.get(host_of(url), 0) >= self.per_host

    def in_use(self, url: str) -> int:
        with self._lock:
            return self._busy.get(host_of(url), 0)


@dataclass
class _Queue:
    changed: threading.Condition
    waiting: int = 0
