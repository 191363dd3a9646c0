"""The light commands start without the heavy libraries: `watcher --help`
loads click and the commands' definitions, and `status`, `log` and `feeds`
read a real log (tests/review_world.py) with click and sqlite3 only.

Each command runs in a process of its own, as ``python -m watcher`` starts
it; when it ends, the process writes down every module in ``sys.modules``
(also those imported inside functions). No timing is asserted: the
benchmark (bench/startup.py) measures how long they take.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import review_world

# Stages and parts of the library a light command must not load.
PIPELINE = ("app", "pipeline", "fetch", "parse", "extract", "match", "dedup", "notify", "web", "daemon")
# `python -m watcher ARGS...`, which then lists the modules it loaded in the file $MODULES.
RUN = """
import json, os, runpy, sys
sys.argv = ["watcher", *sys.argv[1:]]
try:
    runpy.run_module("watcher", run_name="__main__", alter_sys=True)
finally:
    with open(os.environ["MODULES"], "w") as out:
        json.dump(sorted(sys.modules), out)
"""


def imported(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -m watcher ARGS...``; (the process, every module it loaded)."""
    listing = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", RUN, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120", "MODULES": str(listing)},
        timeout=120,
    )
    return proc, set(json.loads(listing.read_text(encoding="utf-8")))


def libraries(modules: set[str]) -> set[str]:
    """The third-party packages among ``modules``."""
    tops = {m.split(".")[0] for m in modules}
    return {t for t in tops if t not in sys.stdlib_module_names and t != "watcher" and not t.startswith("_")}


def parts(modules: set[str]) -> set[str]:
    """The parts of watcher (watcher.<part>) among ``modules``."""
    return {m.split(".")[1] for m in modules if m.startswith("watcher.")}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The review tests' log (shared by the session), read-only: tests copy it."""
    return review_world.shared(tmp_path_factory)


def test_help_loads_click_and_the_commands_only(tmp_path):
    proc, modules = imported(tmp_path, "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Self-hosted news watcher" in proc.stdout
    assert all(f"  {name} " in proc.stdout for name in ("run", "status", "log", "feeds", "match"))
    assert "watcher.cli.main" in modules  # the listing of imports is read right
    assert libraries(modules) == {"click"}
    assert parts(modules) & {"config", "store", *PIPELINE} == set(), parts(modules)


def test_a_commands_help_loads_no_library_either(tmp_path):
    proc, modules = imported(tmp_path, "log", "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--severity [low|medium|high|critical]" in proc.stdout  # the choices, read when shown
    assert libraries(modules) == {"click"}
    assert parts(modules) & {"store", *PIPELINE} == set()


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (("status",), "articles"),
        (("status", "--json"), '"articles_stored"'),
        (("log",), "headline"),
        (("feeds",), "Daily Sabah"),
    ],
)
def test_reading_the_log_loads_no_heavy_library(world, tmp_path, command, shown):
    """A real log, written by `watcher run --once`: what the commands show, with
    click and the standard library's sqlite3 only (no sqlite-utils,
    numpy, courlan, httpx, re2, pyahocorasick, feedparser, lxml, trafilatura, apprise)."""
    copy = world.copy(tmp_path / "world")
    proc, modules = imported(tmp_path, "--config", str(copy.config), *command)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shown in proc.stdout
    assert "sqlite3" in modules and "watcher.store.database" in modules  # it did read the database
    assert libraries(modules) == {"click"}, libraries(modules)
    # app opens the store (it checks the folding is current: dedup.refold, no courlan or numpy)
    assert parts(modules) & {"pipeline", "fetch", "parse", "extract", "match", "notify", "web"} == set()
    assert not {"watcher.dedup.identity", "watcher.dedup.similarity"} & modules
