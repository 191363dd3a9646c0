"""The light commands start without the heavy libraries: `watcher --help`
loads click and the index of commands (no command's module), and `status`,
`log` and `feeds` read a real log (tests/review_world.py) with click and
sqlite3 only, and the module of their own command.

Each command runs in a process of its own, as ``python -m watcher`` starts
it; when it ends, the process writes down every module in ``sys.modules``
(also those imported inside functions). No timing is asserted: the
benchmark (bench/startup.py) measures how long they take.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import review_world

import watcher.cli
from watcher.cli import commands
from watcher.cli.main import main

# Stages and parts of the library a light command must not load.
PIPELINE = ("app", "pipeline", "fetch", "parse", "extract", "match", "dedup", "notify", "web", "daemon")
# The heavy libraries, named (besides "click and nothing else" below).
HEAVY = {"httpx", "numpy", "sqlite_utils", "trafilatura", "feedparser", "apprise", "lxml", "courlan"}
# What every command loads of watcher/cli/: the entry point, the index, the shared console.
SHELL = {"watcher.cli", "watcher.cli.main", "watcher.cli.commands", "watcher.cli.console"}
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


def imported(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -m watcher ARGS...`` (with ``env`` added to the environment);
    (the process, every module it loaded)."""
    listing = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", RUN, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120", "MODULES": str(listing), **(env or {})},
        timeout=120,
    )
    return proc, set(json.loads(listing.read_text(encoding="utf-8")))


def libraries(modules: set[str]) -> set[str]:
    """The third-party packages among ``modules``."""
    tops = {m.split(".")[0] for m in modules}
    return {t for t in tops if t not in sys.stdlib_module_names and t != "watcher" and not t.startswith("_")}


def cli_modules(modules: set[str]) -> set[str]:
    """The modules of watcher/cli/ among ``modules``."""
    return {m for m in modules if m == "watcher.cli" or m.startswith("watcher.cli.")}


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
    assert not HEAVY & {m.split(".")[0] for m in modules}
    assert parts(modules) & {"config", "store", *PIPELINE} == set(), parts(modules)
    assert cli_modules(modules) == SHELL  # the commands are listed from the index, none imported


def test_shell_completion_of_a_command_name_loads_no_command(tmp_path):
    """`watcher s<TAB>` (bash and zsh): the command names and their help lines,
    from the index alone."""
    bash = {"_WATCHER_COMPLETE": "bash_complete", "COMP_WORDS": "watcher s", "COMP_CWORD": "1"}
    proc, modules = imported(tmp_path, env=bash)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["plain,search", "plain,serve", "plain,show", "plain,status"]
    assert cli_modules(modules) == SHELL and libraries(modules) == {"click"}
    zsh = {**bash, "_WATCHER_COMPLETE": "zsh_complete", "COMP_WORDS": "watcher st"}
    proc, modules = imported(tmp_path, env=zsh)
    assert proc.stdout.splitlines() == ["plain", "status", commands.COMMANDS["status"][2]]
    assert cli_modules(modules) == SHELL
    options = {**bash, "COMP_WORDS": "watcher status --", "COMP_CWORD": "2"}  # a command's own options
    proc, modules = imported(tmp_path, env=options)
    assert "plain,--json" in proc.stdout.split()


def test_a_commands_help_loads_no_library_either(tmp_path):
    proc, modules = imported(tmp_path, "log", "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--severity [low|medium|high|critical]" in proc.stdout  # the choices, read when shown
    assert libraries(modules) == {"click"}
    assert parts(modules) & {"store", *PIPELINE} == set()
    assert cli_modules(modules) == SHELL | {"watcher.cli.log", "watcher.cli.filters"}


@pytest.mark.parametrize(
    ("command", "shown", "own"),
    [
        (("status",), "articles", {"watcher.cli.status"}),
        (("status", "--json"), '"articles_stored"', {"watcher.cli.status"}),
        (("log",), "headline", {"watcher.cli.log", "watcher.cli.filters"}),
        (("feeds",), "Daily Sabah", {"watcher.cli.spine", "watcher.cli.feedlist"}),
    ],
)
def test_reading_the_log_loads_no_heavy_library(world, tmp_path, command, shown, own):
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
    assert not HEAVY & {m.split(".")[0] for m in modules}
    assert cli_modules(modules) == SHELL | own  # its own command's module, not the other commands'


def test_the_index_lists_every_command_as_the_command_itself_does():
    """`watcher --help` lists the commands from watcher/cli/commands.py without
    importing them: each row is the one the loaded command would give, at any
    width, and every command a module of watcher/cli/ defines has its row."""
    defined = {}
    for info in pkgutil.iter_modules(watcher.cli.__path__):
        module = __import__(f"watcher.cli.{info.name}", fromlist=["COMMANDS"])
        # (feedlist's are under `feeds`: `feeds add`, `feeds remove`...; commands.COMMANDS is the index)
        if module.__name__ not in ("watcher.cli.feedlist", "watcher.cli.commands"):
            defined.update({c.name: (module.__name__, c) for c in getattr(module, "COMMANDS", ())})
    assert set(commands.COMMANDS) == set(defined)
    for name, (module, command) in defined.items():
        assert f"watcher.cli.{commands.COMMANDS[name][0]}" == module, name
        assert commands.load(name) is command
        stand_in = commands.listed(name)
        assert stand_in.hidden == command.hidden and not command.deprecated
        for limit in (10, 30, 45, 60, 64, 100, 300):
            assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), (name, limit)


@pytest.mark.parametrize("width", [40, 80, 200])
def test_help_from_the_index_is_the_help_of_the_loaded_commands(width):
    """The same listing, as a person reads it: the help of the group with no
    command loaded, and with every command loaded."""
    lazy = commands.LazyGroup(name="watcher", help=main.help, params=main.params)
    eager = click.Group(name="watcher", help=main.help, params=main.params)
    for name in commands.COMMANDS:
        eager.add_command(commands.load(name), name)

    def shown(group: click.Group) -> str:
        with click.Context(group, info_name="watcher", terminal_width=width) as ctx:
            return group.get_help(ctx)

    assert shown(lazy) == shown(eager)
    assert "Commands:" in shown(lazy) and not lazy.commands  # listed, none loaded
