"""A child for tests/test_workerprocess.py, run as ``python -m workerprocess_child FD MEMORY``
by :class:`watcher.workerprocess.WorkerProcess`: a real process that does what it is asked
(echo, sleep, crash, allocate), behind the same memory bound as the real workers."""

from __future__ import annotations

import os
import sys
import time
from multiprocessing.connection import Connection

from watcher import memorybound, workerprocess


def answer(request: object) -> tuple[str, object]:
    kind, arg = request  # type: ignore[misc]
    if kind == "echo":
        return "ok", (os.getpid(), arg)
    if kind == "sleep":
        time.sleep(arg)
        return "ok", arg
    if kind == "crash":
        os._exit(3)
    if kind == "allocate":
        try:
            block = bytearray(arg)
        except MemoryError:
            return "memory", "the allocation needed more than the memory bound"
        return "ok", len(block)
    return "failed", f"unknown request {kind!r}"


def main(argv: list[str]) -> int:
    fd, memory_bytes = int(argv[1]), int(argv[2])
    with Connection(fd) as conn:
        in_use = memorybound.limit(memory_bytes, headroom=1.2)
        conn.send(
            ("failed", f"the bound is too small ({in_use} bytes in use)") if in_use else ("ready", None)
        )
        if not in_use:
            workerprocess.serve(conn, answer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
