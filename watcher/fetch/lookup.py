"""Name look-ups with a deadline, and the deadline itself.

``getaddrinfo`` cannot be interrupted, so look-ups run in daemon threads, a
bounded number at once (``DNS_SLOTS``); the caller waits at most for the time
left before its deadline. ``Deadlines`` holds the current thread's total
deadline so that every socket operation below the HTTP client is cut to it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from watcher.errors import WatcherError

DNS_SLOTS = 16  # look-ups at once; a hung one costs a slot, not the deadline
Resolver = Callable[[str, int], Sequence[str]]


class LookupTimeout(WatcherError):
    """A name look-up did not finish (or could not start) before the deadline."""


class Deadlines:
    """The current thread's deadline (time.monotonic()), shared with the sockets."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def until(self, at: float) -> Iterator[None]:
        previous = self.set(at)
        try:
            yield
        finally:
            self.set(previous)

    def set(self, at: float | None) -> float | None:
        """Make ``at`` the current thread's deadline (None: none); the one it replaces."""
        previous = getattr(self._local, "at", None)
        self._local.at = at
        return previous

    def bound(self, timeout: float | None, error: type[Exception]) -> float | None:
        """``timeout`` shortened to the time left; ``error`` if none is left."""
        at = getattr(self._local, "at", None)
        if at is None:
            return timeout
        remaining = at - time.monotonic()
        if remaining <= 0:
            raise error("total deadline reached")
        return remaining if timeout is None else min(timeout, remaining)


class Lookups:
    """Name look-ups in daemon threads (getaddrinfo cannot be interrupted), at most
    ``slots`` at once: a hung resolver costs a thread, never the deadline or a clean exit."""

    def __init__(self, resolver: Resolver, slots: int) -> None:
        self._resolver = resolver
        self._slots = threading.BoundedSemaphore(slots)

    def resolve(self, host: str, port: int, wait: float | None) -> Sequence[str]:
        started = time.monotonic()
        if not self._slots.acquire(timeout=wait):
            raise LookupTimeout(f"no free slot to look up {host} in time")
        outcome: list = []
        done = threading.Event()

        def run() -> None:
            try:
                outcome.append(self._resolver(host, port))
            except Exception as exc:  # handed to the waiting thread
                outcome.append(exc)
            finally:
                self._slots.release()
                done.set()

        threading.Thread(target=run, name=f"watcher-dns {host}", daemon=True).start()
        if not done.wait(None if wait is None else max(0.0, wait - (time.monotonic() - started))):
            raise LookupTimeout(f"DNS look-up of {host} did not finish in time")
        if isinstance(outcome[0], Exception):
            raise outcome[0]
        return outcome[0]


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
