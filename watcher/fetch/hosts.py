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
from collections.abc import Iterator
from contextlib import contextmanager
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
        self._changed = threading.Condition()

    @contextmanager
    def slot(self, url: str, deadline: float) -> Iterator[None]:
        """Hold one slot of ``url``'s host (``deadline``: ``time.monotonic()``
        time after which waiting gives up with :class:`NoSlot`)."""
        host = host_of(url)
        with self._changed:
            while self._busy.get(host, 0) >= self.per_host:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NoSlot(host)
                self._changed.wait(left)
            self._busy[host] = self._busy.get(host, 0) + 1
        try:
            yield
        finally:
            with self._changed:
                left_busy = self._busy[host] - 1
                if left_busy:
                    self._busy[host] = left_busy
                else:
                    del self._busy[host]
                self._changed.notify_all()

    def full(self, url: str) -> bool:
        """Whether every slot of ``url``'s host is taken right now."""
        with self._changed:
            return self._busy.get(host_of(url), 0) >= self.per_host

    def in_use(self, url: str) -> int:
        with self._changed:
            return self._busy.get(host_of(url), 0)
