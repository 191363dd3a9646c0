"""Full-text extraction: the main text and metadata of an article page.

trafilatura has no time limit (12 MB of tiny ``<div>``s takes minutes and
gigabytes), so it runs in worker processes (:mod:`watcher.extract.worker`)
that this module owns: a pool of ``workers`` of them (``[extraction]
workers``, default one per core), so that several pages are extracted at
once, each in its own process with its own bounds:

- a wall-clock deadline per page (``timeout``): past it that worker is
  killed and ``ExtractionError('timeout')`` raised; the other workers go on;
- a memory bound (``memory_mb``, RLIMIT_AS in each worker): a page that
  needs more ends in ``ExtractionError('memory')`` and a fresh worker;
- a worker stays warm between pages (starting one costs a fraction of a
  second of imports, not counted in the page's deadline), is restarted after
  any failure, lazily, on the next page, and replaced every
  ``recycle_after`` pages so that months of pages cannot accumulate leaks;
- a worker that dies (a crash, the OOM killer) is replaced and its page
  tried once more on the fresh one: no page is lost with a worker;
- a worker idle for ``idle_exit`` seconds is stopped (a watcher at rest has
  no worker process); the next page starts one again.

A caller's page goes to an idle worker while there is one; when every worker
is busy, a second page is sent to one of them (``IN_FLIGHT``), so that a
worker starts on its next page as soon as it is done, without waiting for this
process to take the answer and send another; a page's deadline runs from when
its worker starts on it. Past that a page waits for a worker. The most
recently used worker is reused first, so a light load keeps one worker warm
and lets the others go idle.

``post`` names a function (``"module:function"``) that the worker runs on
each extracted text and whose dict comes back as ``Extracted.derived``: the
pipeline uses it to compute the content hash and the SimHash in the worker
rather than in the process that stores articles.

Each worker is a fresh interpreter (``python -m watcher.extract.worker``)
run by :class:`watcher.workerprocess.WorkerProcess` (start, deadline, restart,
recycling and idle exit are that module's, shared with the embedder).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from watcher.errors import EXTRACTION_KINDS as _KINDS
from watcher.errors import WORKER_DIED, ExtractionError
from watcher.workerprocess import STOP_GRACE as _STOP_GRACE
from watcher.workerprocess import IdleReaper, WorkerProcess

WORKER_NAME = WORKER_DIED.removesuffix(" died")  # "the extraction worker", as the operator notices read it
IDLE_EXIT = 300.0  # seconds a worker may sit idle before it is stopped
IN_FLIGHT = 2  # pages a worker may have at once: the next one waits in its socket, not in this process


def default_workers() -> int:
    """One extraction worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None
    author: str | None
    published: str | None  # ISO date as trafilatura gives it
    language: str | None
    derived: Mapping[str, object] = field(default_factory=dict)  # what ``post`` computed in the worker


class Extractor:
    """Owns a pool of worker processes, each with a deadline and a memory bound."""

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        memory_mb: int = 768,
        recycle_after: int = 1000,
        workers: int | None = None,
        idle_exit: float = IDLE_EXIT,
        post: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout <= 0 or idle_exit <= 0:
            raise ValueError("timeout and idle_exit must be positive")
        if memory_mb <= 0 or recycle_after <= 0 or (workers is not None and workers <= 0):
            raise ValueError("memory_mb, recycle_after and workers must be positive")
        self.workers = workers or default_workers()
        self._timeout = timeout
        self._idle_exit = idle_exit
        self._monotonic = monotonic
        self._command = _command(memory_mb * 2**20, post)
        self._recycle_after = recycle_after  # pages per worker: a months-long run never leaks
        self._slots = [_Slot(self, i) for i in range(self.workers)]
        self._pages = {slot: 0 for slot in self._slots}  # pages each worker has now
        self._stopping: set[_Slot] = set()  # idle workers being stopped: no page for them
        self._cond = threading.Condition()
        self._closed = False
        self._given = 0  # pages handed back so far (which worker was used last)
        self._reaper = IdleReaper(self._sweep, min(idle_exit / 4, 30.0), "extraction-reaper")

    def extract(self, html: bytes, *, url: str, metadata: bool = True) -> Extracted:
        """The page's main text; its title, author and date too with ``metadata``
        (a fifth of the time: ask only when the feed did not give them)."""
        if not html or not html.strip():
            raise ExtractionError("empty", "the page is empty")
        slot = self._take()
        try:
            status, payload = slot.ask((bytes(html), url, metadata))
        finally:
            self._give(slot)
        if status != "ok" or not isinstance(payload, dict):
            raise ExtractionError(status if status in _KINDS else "failed", str(payload))
        return Extracted(**payload)

    def pids(self) -> list[int]:
        """The process ids of the workers running now (none at rest)."""
        return [pid for s in self._slots if (pid := s.process.pid) is not None]

    def close(self) -> None:
        """Stop every worker. A page under way may end first (within its deadline);
        past that its worker is killed and its caller gets an error."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._reaper.close()
        waited = time.monotonic() + self._timeout + _STOP_GRACE
        with self._cond:
            while any(self._pages.values()) and time.monotonic() < waited:
                self._cond.wait(max(0.0, waited - time.monotonic()))
            idle = [s for s in self._slots if not self._pages[s]]
            busy = [s for s in self._slots if self._pages[s]]
        for slot in idle:
            slot.process.close(graceful=True)
        for slot in busy:  # past every deadline: its thread gets an error, not a hang
            slot.process.close(graceful=False)

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the pool -------------------------------------------------------------

    def _take(self) -> _Slot:
        """The worker with the fewest pages (the most recently used of those): an
        idle one while there is one, else a second page for a busy one, so that
        it has the next page as soon as it is done with the one it has."""
        with self._cond:
            while True:
                if self._closed:
                    raise ExtractionError("failed", "the extractor is closed")
                open_ = [s for s in self._slots if self._pages[s] < IN_FLIGHT and s not in self._stopping]
                if open_:
                    slot = min(open_, key=lambda s: (self._pages[s], -s.given))
                    self._pages[slot] += 1
                    return slot
                self._cond.wait()

    def _give(self, slot: _Slot) -> None:
        with self._cond:
            self._pages[slot] -= 1
            self._given += 1
            slot.given = self._given
            self._cond.notify_all()
        if slot.running:
            self._reaper.wake()

    def _sweep(self) -> bool:
        """Stop workers idle for ``idle_exit``; whether any still runs."""
        with self._cond:
            if self._closed:
                return False
            now = self._monotonic()
            idle = [
                s
                for s in self._slots
                if not self._pages[s]
                and s.process.pid is not None
                and now - s.process.last_used >= self._idle_exit
            ]
            self._stopping.update(idle)  # no page waits on a dying worker
        for slot in idle:
            slot.process.stop_if_idle(self._idle_exit)
        with self._cond:
            self._stopping.difference_update(idle)
            if idle:
                self._cond.notify_all()
            return any(s.running for s in self._slots)


class _Slot:
    """One place in the pool: a worker process (or none), with at most ``IN_FLIGHT`` pages."""

    def __init__(self, pool: Extractor, index: int) -> None:
        self.pool = pool
        self.index = index
        self.given = 0  # when it last finished a page (the pool's count)
        self.process = WorkerProcess(
            "watcher.extract.worker",
            pool._command,
            name=WORKER_NAME,
            recycle_after=pool._recycle_after,
            monotonic=pool._monotonic,
        )

    @property
    def running(self) -> bool:
        return self.process.pid is not None

    def ask(self, request: tuple[bytes, str, bool]) -> tuple[str, object]:
        status, payload = self.process.ask(request, self.pool._timeout, what=" on this page")
        if status == "timeout":
            return status, (
                f"extraction took longer than {self.pool._timeout:g} s; "
                "the page was abandoned and the worker restarted"
            )
        return status, payload


def _command(memory_bytes: int, post: str | None) -> list[str]:
    """The worker's arguments after its socket's FD: ``MEMORY [POST]``."""
    return [str(memory_bytes), *([post] if post else [])]
