"""A worker process: a child interpreter (``python -m MODULE FD ARGS...``) that
answers requests over a socket pair, one at a time, behind bounds its owner
sets. The extraction pool (:mod:`watcher.extract.extractor`, one per slot) and
the embedder (:mod:`watcher.match.embedder`) are built on it; the child caps
its own address space with :mod:`watcher.memorybound`.

The protocol: pickled messages over a ``multiprocessing.connection.Connection``.
The child says ``("ready", None)`` (or ``("failed", why)``) once it has loaded
its libraries, then answers each request with ``(status, payload)`` until it
receives ``None`` or the socket closes. A child that replies ``"memory"`` exits
by itself (its heap is suspect).

What the parent side does, the same for every kind of worker:

- starts the child lazily, on the first request (or early, with
  :meth:`WorkerProcess.start`, without waiting for it), and waits at most
  ``STARTUP_TIMEOUT`` for its "ready" (not counted in a request's deadline);
- a wall-clock deadline per request: past it the child is killed and the
  request answered ``("timeout", message)``;
- a child found dead (a crash, the OOM killer) is replaced and the request
  asked once more of the fresh one; dead twice: ``("memory", ...)`` when the
  kernel killed it (SIGKILL), else ``("failed", ...)``;
- replaced every ``recycle_after`` requests, so that months of work cannot
  accumulate leaks;
- :meth:`WorkerProcess.stop_if_idle`: stopped when unused for a while (the
  owner decides when to ask), started again by the next request.

Several requests may be in flight at once (from several threads): the child
works through them in order, so it never idles between two. A plain
subprocess rather than multiprocessing's 'spawn': spawn re-runs the parent's
``__main__`` in the child, which breaks scripts without a ``__main__`` guard
and costs the daemon's start-up again; a fresh interpreter is also safe to
start from a threaded daemon.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path

from watcher import memorybound

STARTUP_TIMEOUT = 60.0  # seconds for a fresh child to import its libraries (or load a model)
STOP_GRACE = 2.0  # seconds a child gets to exit when asked to


class WorkerProcess:
    """One child process (or none, at rest) and the requests it answers.

    Safe from several threads: requests are sent in the order asked and the
    child answers them in that order, so a second request may be sent while
    the first is worked on (the child never waits for the parent between two
    requests). A request's deadline runs from when the child starts on it; a
    request sent to a child that is then killed (for the one ahead of it) is
    sent again to the fresh child, not counted against it.
    """

    def __init__(
        self,
        module: str,
        args: Sequence[str],
        *,
        name: str,
        recycle_after: int,
        startup_timeout: float = STARTUP_TIMEOUT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if recycle_after <= 0 or startup_timeout <= 0:
            raise ValueError("recycle_after and startup_timeout must be positive")
        self.name = name  # "the extraction worker": how messages name it
        self._module = module
        self._args = [str(a) for a in args]
        self._recycle_after = recycle_after
        self._startup_timeout = startup_timeout
        self._monotonic = monotonic
        self._cond = threading.Condition()
        self._sending = threading.Lock()  # one request written to the child at a time, in order
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._ready = False  # the running child said "ready"
        self._generation = 0  # bumped whenever the child is stopped: what was sent to it is lost
        self._in_flight: deque[object] = deque()  # tickets of the requests sent, oldest first
        self._closed = False  # closed for good: no child is started any more
        self.requests = 0  # sent to the running child
        self.last_used = monotonic()

    @property
    def pid(self) -> int | None:
        """The running child's process id; None at rest."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def busy(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._in_flight)

    def start(self) -> str | None:
        """Start the child now, without waiting for it to be ready (the next
        request waits). None, or why it could not be started."""
        with self._cond:
            return self._start()

    def ask(self, request: object, timeout: float, *, what: str = "") -> tuple[str, object]:
        """The child's ``(status, payload)`` for ``request``, within ``timeout``
        seconds of the child starting on it (``"timeout"`` past it: the child is
        killed). ``what`` names the request in a death's message (" on this page")."""
        deaths: list[str] = []
        while True:
            ticket = object()
            # Sent in the order of the tickets, but never under self._cond: a send
            # blocks while the child's socket is full, until the reader ahead of
            # this request takes the child's reply (and the reader needs self._cond).
            with self._sending:
                with self._cond:
                    problem = self._ensure()
                    if problem is not None:
                        return "failed", problem
                    conn, generation = self._conn, self._generation
                    assert conn is not None
                    self._in_flight.append(ticket)
                    self.requests += 1
                try:
                    conn.send(request)
                except OSError:  # the child is gone: found out by whoever reads first
                    pass
            with self._cond:
                while self._generation == generation and self._in_flight[0] is not ticket:
                    self._cond.wait()
                if self._generation != generation:
                    continue  # the child was stopped for a request ahead: send to the fresh one
            # Our turn: only this thread reads now; others may send behind us.
            status, payload = self._answer(conn, timeout)
            with self._cond:
                if self._generation == generation:
                    self._in_flight.popleft()
                    if status in ("timeout", "died"):
                        self._stop(graceful=False)
                    elif status == "memory":
                        self._stop(graceful=True)  # it exits by itself after a MemoryError
                self.last_used = self._monotonic()
                self._cond.notify_all()
            if status == "timeout":
                return status, f"took longer than {timeout:g} s; {self.name} was restarted"
            if status != "died":
                return status, payload
            deaths.append(str(payload))
            if len(deaths) == 2:  # once more on a fresh child, then it is this request's doing
                return _death_kind(deaths[-1]), f"{self.name} died{what}, twice ({deaths[-1]})"

    def stop(self, *, graceful: bool) -> None:
        """Stop the child (asked to exit, then killed past ``STOP_GRACE``; at once
        unless ``graceful``); requests in flight are sent again to a fresh one."""
        with self._cond:
            self._stop(graceful=graceful)
            self._cond.notify_all()

    def close(self, *, graceful: bool = True) -> None:
        """Stop the child for good: requests in flight, and any asked later, get
        ``("failed", ...)`` instead of a fresh child."""
        with self._cond:
            self._closed = True
            self._stop(graceful=graceful)
            self._cond.notify_all()

    def stop_if_idle(self, idle_exit: float) -> bool:
        """Stop the child if it has had nothing to do for ``idle_exit`` seconds;
        whether it was stopped."""
        with self._cond:
            if self._process is None or self._in_flight:
                return False
            if self._monotonic() - self.last_used < idle_exit:
                return False
            self._stop(graceful=True)
            return True

    # -- the child (under self._cond) ----------------------------------------------
    def _start(self) -> str | None:
        if self.pid is not None:
            return None
        self._stop(graceful=False)
        try:
            self._spawn()
        except OSError as exc:
            return f"cannot start {self.name}: {exc}"
        return None

    def _ensure(self) -> str | None:
        """A running, ready child; else why there is none."""
        if self._closed:
            return f"{self.name} was stopped (closing)"
        if self.requests >= self._recycle_after and not self._in_flight:
            self._stop(graceful=True)
        if self.pid is None and not self._in_flight:
            problem = self._start()
            if problem is not None:
                return problem
        if self._ready:
            return None
        conn = self._conn
        if conn is None:
            return f"{self.name} is not running"
        try:
            if not conn.poll(self._startup_timeout):
                status, message = "failed", f"{self.name} did not start within {self._startup_timeout:g} s"
            else:
                status, message = conn.recv()
        except (EOFError, OSError):
            status, message = "failed", f"{self.name} exited while starting ({self._exit_note()})"
        if status != "ready":
            self._stop(graceful=False)
            return str(message)
        self._ready = True
        return None

    def _answer(self, conn: Connection, timeout: float) -> tuple[str, object]:
        """The reply to the oldest request in flight (read without the lock)."""
        try:
            if not conn.poll(timeout):
                return "timeout", None
            status, payload = conn.recv()
        except (EOFError, OSError):
            return "died", self._exit_note()
        return str(status), payload

    def _stop(self, *, graceful: bool) -> None:
        process, conn = self._process, self._conn
        self._ready = False
        self._generation += 1
        self._in_flight.clear()
        if process is not None:
            if graceful and process.poll() is None and conn is not None:
                try:
                    conn.send(None)
                    process.wait(STOP_GRACE)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            if process.poll() is None:
                process.kill()
            process.wait()
        if conn is not None:
            conn.close()
        self._process = self._conn = None  # only now: ``pid`` is None once the process is gone

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", self._module, str(theirs.fileno()), *self._args],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
                close_fds=True,
            )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        self._process, self._conn = process, Connection(ours.detach())
        self._ready, self.requests = False, 0
        self.last_used = self._monotonic()

    def _exit_note(self) -> str:
        process = self._process
        if process is None:
            return "not running"
        try:
            code = process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            return "still running"
        return f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


def _death_kind(note: str) -> str:
    # The kernel's OOM killer uses SIGKILL; anything else is a crash.
    return "memory" if note == f"killed by signal {signal.SIGKILL.name}" else "failed"


def bound_and_ready(conn: Connection, memory_bytes: int, headroom: float, name: str, fix: str = "") -> bool:
    """In the child, once its libraries are loaded: cap its address space at
    ``memory_bytes`` (``watcher.memorybound``) and tell the parent "ready"; when
    the bound leaves less than ``headroom`` times what is mapped already, say
    instead that ``name``'s bound is too small (and ``fix``, the setting to
    raise). True when ready."""
    in_use = memorybound.limit(memory_bytes, headroom=headroom)
    if in_use:
        conn.send(
            (
                "failed",
                f"{name}'s memory bound ({memory_bytes // 2**20} MB) is too small: "
                f"it already maps {in_use // 2**20} MB" + (f"; {fix}" if fix else ""),
            )
        )
        return False
    conn.send(("ready", None))
    return True


def serve(
    conn: Connection,
    answer: Callable[[object], tuple[str, object]],
    exit_after: Callable[[tuple[str, object]], bool] | None = None,
) -> None:
    """The child's loop, after it said "ready": ``answer`` each request until
    ``None`` or the socket closes; exit after a ``"memory"`` reply, or one for
    which ``exit_after`` says so (a fresh child for the next request)."""
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        reply = answer(request)
        try:
            conn.send(reply)
        except MemoryError:
            reply = ("memory", "the reply was too large to hand back within the memory bound")
            try:
                conn.send(reply)
            except (OSError, MemoryError):
                return
        except OSError:
            return
        if reply[0] == "memory" or (exit_after is not None and exit_after(reply)):
            return


class IdleReaper:
    """A thread that stops idle worker processes, running only while a worker
    does (a watcher at rest has neither a worker nor this thread).

    ``sweep()`` stops whatever has been idle long enough and says whether a
    worker still runs; it is called every ``check`` seconds until it says no.
    The owner calls :meth:`wake` after each use of a worker."""

    def __init__(self, sweep: Callable[[], bool], check: float, name: str) -> None:
        self._sweep = sweep
        self._check = max(0.05, check)
        self._name = name
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._woken = False  # woken since the last sweep began
        self._closed = threading.Event()

    def wake(self) -> None:
        with self._lock:
            self._woken = True
            if self._thread is None and not self._closed.is_set():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def close(self) -> None:
        """End the thread (a later :meth:`wake` starts it again)."""
        with self._lock:
            thread = self._thread
            self._closed.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_GRACE * 2)
        with self._lock:
            if self._thread is None:
                self._closed.clear()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    def _run(self) -> None:
        while not self._closed.wait(self._check):
            with self._lock:
                self._woken = False
            alive = self._sweep()
            with self._lock:
                if not alive and not self._woken:
                    self._thread = None
                    return
        with self._lock:
            self._thread = None
