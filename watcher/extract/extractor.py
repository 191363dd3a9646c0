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

A caller's page waits for a free worker (at most the deadline of the pages
ahead of it). The most recently used worker is reused first, so a light load
keeps one worker warm and lets the others go idle.

``post`` names a function (``"module:function"``) that the worker runs on
each extracted text and whose dict comes back as ``Extracted.derived``: the
pipeline uses it to compute the content hash and the SimHash in the worker
rather than in the process that stores articles.

Each worker is a fresh interpreter (``python -m watcher.extract.worker``),
which is safe in a threaded daemon.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from watcher.errors import EXTRACTION_KINDS as _KINDS
from watcher.errors import WORKER_DEATHS, WORKER_DIED, WORKER_NOT_STARTED, ExtractionError

STARTUP_TIMEOUT = 60.0  # seconds for a fresh worker to import its libraries
_STOP_GRACE = 2.0  # seconds a worker gets to exit when asked to
IDLE_EXIT = 300.0  # seconds a worker may sit idle before it is stopped


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
        self._free = list(reversed(self._slots))  # a stack: the last freed is taken first
        self._cond = threading.Condition()
        self._closed = False
        self._reaper: threading.Thread | None = None

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
        return [
            w.process.pid for s in self._slots if (w := s.worker) is not None and w.process.poll() is None
        ]

    def close(self) -> None:
        """Stop every worker. A page under way may end first (within its deadline);
        past that its worker is killed and its caller gets an error."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        waited = time.monotonic() + self._timeout + _STOP_GRACE
        with self._cond:
            while len(self._free) < len(self._slots) and time.monotonic() < waited:
                self._cond.wait(max(0.0, waited - time.monotonic()))
            idle, busy = list(self._free), [s for s in self._slots if s not in self._free]
        for slot in idle:
            slot.stop(graceful=True)
        for slot in busy:  # past every deadline: its thread gets an error, not a hang
            slot.stop(graceful=False)

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the pool -------------------------------------------------------------

    def _take(self) -> _Slot:
        with self._cond:
            while not self._free and not self._closed:
                self._cond.wait()
            if self._closed:
                raise ExtractionError("failed", "the extractor is closed")
            return self._free.pop()

    def _give(self, slot: _Slot) -> None:
        slot.last_used = self._monotonic()
        with self._cond:
            self._free.append(slot)
            self._cond.notify_all()
        if slot.worker is not None:
            self._start_reaper()

    def _start_reaper(self) -> None:
        with self._cond:
            if self._reaper is not None and self._reaper.is_alive():
                return
            self._reaper = threading.Thread(target=self._reap, name="extraction-reaper", daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        """Stop workers idle for ``idle_exit``; end when none is left running."""
        check = max(0.05, min(self._idle_exit / 4, 30.0))
        while True:
            with self._cond:
                self._cond.wait(check)
                if self._closed:
                    return
                now = self._monotonic()
                idle = [
                    s for s in self._free if s.worker is not None and now - s.last_used >= self._idle_exit
                ]
                for slot in idle:  # taken out while they stop, so no page waits on a dying worker
                    self._free.remove(slot)
            for slot in idle:
                slot.stop(graceful=True)
            with self._cond:
                self._free.extend(idle)
                if idle:
                    self._cond.notify_all()
                if all(s.worker is None for s in self._slots):
                    self._reaper = None
                    return


class _Slot:
    """One place in the pool: a worker process (or none), used by one page at a time."""

    def __init__(self, pool: Extractor, index: int) -> None:
        self.pool = pool
        self.index = index
        self.worker: _Worker | None = None
        self.pages = 0
        self.last_used = 0.0

    def ask(self, request: tuple[bytes, str, bool]) -> tuple[str, object]:
        """One retry on a fresh worker if the worker was found dead: it may
        have died (OOM killer, crash) before it ever saw this page."""
        for _ in range(2):
            worker = self._ensure_worker()
            status, payload = self._ask(worker, request)
            if status != "died":
                return status, payload
        return _death_kind(str(payload)), f"{WORKER_DIED} on this page, twice ({payload})"

    def _ensure_worker(self) -> _Worker:
        if self.pages >= self.pool._recycle_after:
            self.stop(graceful=True)
        if self.worker is not None and self.worker.process.poll() is None:
            return self.worker
        self.stop(graceful=False)
        if self.pool._closed:
            raise ExtractionError("failed", "the extractor was closed")
        worker = self.worker = _start_worker(self.pool._command)
        self.pages = 0
        status, message = _startup_reply(worker)
        if status != "ready":
            self.stop(graceful=False)
            raise ExtractionError("failed", message)
        return worker

    def _ask(self, worker: _Worker, request: tuple[bytes, str, bool]) -> tuple[str, object]:
        timeout = self.pool._timeout
        deadline = time.monotonic() + timeout
        self.pages += 1
        try:
            worker.pipe.send(request)
            if not worker.pipe.poll(max(0.0, deadline - time.monotonic())):
                self.stop(graceful=False)
                return "timeout", (
                    f"extraction took longer than {timeout:g} s; the page was abandoned and the worker restarted"
                )
            status, payload = worker.pipe.recv()
        except (EOFError, OSError):
            note = worker.exit_note()
            self.stop(graceful=False)
            return "died", note
        if status == "memory":
            self.stop(graceful=True)  # it exits by itself after a MemoryError
        return status, payload

    def stop(self, *, graceful: bool) -> None:
        worker, self.worker = self.worker, None
        if worker is None:
            return
        process, pipe = worker.process, worker.pipe
        if graceful and process.poll() is None:
            try:
                pipe.send(None)
                process.wait(_STOP_GRACE)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if process.poll() is None:
            process.kill()
            process.wait()
        pipe.close()


@dataclass(frozen=True)
class _Worker:
    """A running worker process and our end of its socket pair."""

    process: subprocess.Popen[bytes]
    pipe: Connection  # our end of the socket pair

    def exit_note(self) -> str:
        try:
            code = self.process.wait(_STOP_GRACE)
        except subprocess.TimeoutExpired:
            return "still running"
        if code < 0:
            return f"killed by signal {signal.Signals(-code).name}"
        return f"exit code {code}"


def _startup_reply(worker: _Worker) -> tuple[str, str | None]:
    try:
        if not worker.pipe.poll(STARTUP_TIMEOUT):
            return "failed", f"{WORKER_NOT_STARTED[0]} within {STARTUP_TIMEOUT:g} s"
        status, message = worker.pipe.recv()
        return str(status), message
    except (EOFError, OSError):
        return "failed", f"{WORKER_NOT_STARTED[1]} ({worker.exit_note()})"


def _command(memory_bytes: int, post: str | None) -> list[str]:
    """The worker's arguments after its socket's FD: ``MEMORY [POST]``."""
    return [str(memory_bytes), *([post] if post else [])]


def _start_worker(command: list[str]) -> _Worker:
    """``python -m watcher.extract.worker FD MEMORY [POST]`` talking over a socket pair.

    A plain subprocess rather than multiprocessing's 'spawn': spawn re-runs
    the parent's ``__main__`` in the child, which breaks scripts without a
    ``__main__`` guard and costs the daemon's start-up again.
    """
    ours, theirs = socket.socketpair()
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "watcher.extract.worker", str(theirs.fileno()), *command],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
    except OSError as exc:
        ours.close()
        raise ExtractionError("failed", f"{WORKER_DEATHS[-1]}: {exc}") from None
    finally:
        theirs.close()
    return _Worker(process, Connection(ours.detach()))


def _death_kind(note: str) -> str:
    # The kernel's OOM killer uses SIGKILL; anything else is a crash.
    return "memory" if note == f"killed by signal {signal.SIGKILL.name}" else "failed"
