"""Full-text extraction: the main text and metadata of an article page.

trafilatura has no time limit (12 MB of tiny ``<div>``s takes minutes and
gigabytes), so it runs in a worker process (:mod:`watcher.extract.worker`)
that this module owns:

- a wall-clock deadline per page (``timeout``): past it the worker is killed
  and ``ExtractionError('timeout')`` raised;
- a memory bound (``memory_mb``, RLIMIT_AS in the worker): a page that needs
  more ends in ``ExtractionError('memory')`` and a fresh worker;
- the worker stays warm between pages (starting one costs a fraction of a
  second of imports, not counted in the page's deadline), is restarted after
  any failure, lazily, on the next page, and replaced every
  ``recycle_after`` pages so that months of pages cannot accumulate leaks.

The worker is a fresh interpreter (``python -m watcher.extract.worker``),
which is safe in a threaded daemon. Calls are serialised; one Extractor
handles one page at a time.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from watcher.errors import EXTRACTION_KINDS as _KINDS
from watcher.errors import WORKER_DEATHS, WORKER_DIED, WORKER_NOT_STARTED, ExtractionError

STARTUP_TIMEOUT = 60.0  # seconds for a fresh worker to import its libraries
_STOP_GRACE = 2.0  # seconds a worker gets to exit when asked to


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None
    author: str | None
    published: str | None  # ISO date as trafilatura gives it
    language: str | None


class Extractor:
    """Owns a worker process with a deadline and a memory bound."""

    def __init__(self, *, timeout: float = 20.0, memory_mb: int = 768, recycle_after: int = 1000) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if memory_mb <= 0 or recycle_after <= 0:
            raise ValueError("memory_mb and recycle_after must be positive")
        self._timeout = timeout
        self._memory_bytes = memory_mb * 2**20
        self._recycle_after = recycle_after  # pages per worker: a months-long run never leaks
        self._pages = 0
        self._lock = threading.Lock()
        self._worker: _Worker | None = None

    def extract(self, html: bytes, *, url: str) -> Extracted:
        if not html or not html.strip():
            raise ExtractionError("empty", "the page is empty")
        with self._lock:
            status, payload = self._ask_worker((bytes(html), url))
        if status != "ok" or not isinstance(payload, dict):
            raise ExtractionError(status if status in _KINDS else "failed", str(payload))
        return Extracted(**payload)

    def close(self) -> None:
        with self._lock:
            self._stop_worker(graceful=True)

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the worker ---------------------------------------------------------

    def _ask_worker(self, request: tuple[bytes, str]) -> tuple[str, object]:
        """One retry on a fresh worker if the worker was found dead: it may
        have died (OOM killer, crash) before it ever saw this page."""
        for _ in range(2):
            worker = self._ensure_worker()
            status, payload = self._ask(worker, request)
            if status != "died":
                return status, payload
        return _death_kind(str(payload)), f"{WORKER_DIED} on this page, twice ({payload})"

    def _ensure_worker(self) -> _Worker:
        if self._pages >= self._recycle_after:
            self._stop_worker(graceful=True)
        if self._worker is not None and self._worker.process.poll() is None:
            return self._worker
        self._stop_worker(graceful=False)
        worker = self._worker = _start_worker(self._memory_bytes)
        self._pages = 0
        status, message = _startup_reply(worker)
        if status != "ready":
            self._stop_worker(graceful=False)
            raise ExtractionError("failed", message)
        return worker

    def _ask(self, worker: _Worker, request: tuple[bytes, str]) -> tuple[str, object]:
        deadline = time.monotonic() + self._timeout
        self._pages += 1
        try:
            worker.pipe.send(request)
            if not worker.pipe.poll(max(0.0, deadline - time.monotonic())):
                self._stop_worker(graceful=False)
                return "timeout", (
                    f"extraction took longer than {self._timeout:g} s; "
                    "the page was abandoned and the worker restarted"
                )
            status, payload = worker.pipe.recv()
        except (EOFError, OSError):
            note = worker.exit_note()
            self._stop_worker(graceful=False)
            return "died", note
        if status == "memory":
            self._stop_worker(graceful=True)  # it exits by itself after a MemoryError
        return status, payload

    def _stop_worker(self, *, graceful: bool) -> None:
        worker, self._worker = self._worker, None
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


def _start_worker(memory_bytes: int) -> _Worker:
    """``python -m watcher.extract.worker FD MEMORY`` talking over a socket pair.

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
            [sys.executable, "-m", "watcher.extract.worker", str(theirs.fileno()), str(memory_bytes)],
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
