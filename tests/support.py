"""Helpers every test area shares: the ``watcher`` command (in this process, or
in a process of its own as a user starts it), reading a database as
``sqlite3`` would, and waiting for what another thread or process does."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import httpx
from click.testing import CliRunner, Result
from httpserver import free_port

from watcher.store import articles
from watcher.store.database import Store

ROOT = Path(__file__).resolve().parents[1]  # the project
SEEDS = ROOT / "seeds"
REAL = ROOT.parent / "shared" / "fixtures" / "real"  # real public material, with SOURCES.md


def wall_clock() -> datetime:
    """The real time, aware UTC (what the watcher's own clock gives)."""
    return datetime.now(timezone.utc)


def watcher(config: Path | str, *args: str, check: bool = False) -> Result:
    """`watcher --config CONFIG ARGS...` in this process, through the real CLI
    (``check``: and it must succeed)."""
    from watcher.cli.main import main

    result = CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)
    assert not check or result.exit_code == 0, result.output
    return result


def watcher_process(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m watcher ARGS...` run to its end in a process of its own; ``env``
    is added to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "watcher", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def start_watcher(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, stdout: bool = True
) -> subprocess.Popen[str]:
    """`python -m watcher ARGS...` (``run``, ``serve``) started and left running;
    its standard error (and output, unless ``stdout`` is false) piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "watcher", *args],
        stdout=subprocess.PIPE if stdout else None,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


@contextmanager
def serving(
    config: Path | str, *, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A real `watcher serve` process on a free loopback port, once it answers:
    (its URL, the process); stopped when the block ends."""
    port = free_port()
    proc = start_watcher("--config", str(config), "serve", "--port", str(port), env=env, stdout=False)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr and proc.stderr.read()
                time.sleep(0.1)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _database(where: Path | str) -> Path:
    """A database file, or the ``watcher.db`` in a folder (what the configs write)."""
    path = Path(where)
    return path / "watcher.db" if path.is_dir() else path


def values(where: Path | str, sql: str, params: Sequence[object] = ()) -> list[tuple]:
    """The rows of a query, as tuples, on a database (or a folder's ``watcher.db``), read-only."""
    conn = sqlite3.connect(f"file:{_database(where)}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def rows(where: Path | str, sql: str, params: Sequence[object] = ()) -> list[dict]:
    """The rows of a query, as dicts."""
    conn = sqlite3.connect(f"file:{_database(where)}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def new_article(store: Store, *, feed_id: int, url: str, fetched_at: str, text: str, **fields: object) -> int:
    """Insert an article row (``watcher.store.articles.insert``) with everything
    not given left empty: a full-text, unmatched article in no story yet."""
    row: dict[str, object] = {
        "canonical_url": url,
        "guid": None,
        "title": "",
        "author": None,
        "published": None,
        "language": None,
        "summary": None,
        "extraction": "full",
        "extraction_error": None,
        "content_hash": None,
        "simhash": None,
        "matched": False,
        **fields,
    }
    return articles.insert(store, feed_id=feed_id, url=url, fetched_at=fetched_at, text=text, **row)  # type: ignore[arg-type]


def wait_for(condition: Callable[[], object], timeout: float = 30.0, *, interval: float = 0.01) -> None:
    """Wait until ``condition()`` holds (a deadline for another thread or process,
    not a timing assertion); AssertionError when it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout:g} s")
        time.sleep(interval)
