"""The index of ``watcher``'s commands: for each one, the module that defines
it and the line ``watcher --help`` lists it with, so that a command's module is
imported only when that command runs (``watcher status`` does not load the
definitions of ``run``, ``match`` or ``serve``, and ``watcher --help`` loads
none of them).

A new command is defined in its ``watcher/cli/<noun>.py`` and gets a row
here; tests/cli/test_startup.py checks that the listing from this index is
the one the loaded commands give.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import ModuleType

import click

from watcher.cli.console import WatcherGroup, accept_config_option

# name: (module, attribute, short help, help). The listing shows the short help
# when the command has one (click wraps it), else the first paragraph of its
# help, which click shortens to fit the terminal.
COMMANDS: Mapping[str, tuple[str, str, str | None, str | None]] = {
    "alerts": ("alerting", "alerts", "The alert outbox: pending, sent and dead alerts.", None),
    "backtest": ("review", "backtest", "Run rules over stored articles: what would match now.", None),
    "check": ("spine", "check", "Validate the config, rules, channels and database.", None),
    "export": ("review", "export", "Stored articles as JSON lines or CSV.", None),
    "feedback": ("review", "feedback", "Mark an article relevant or irrelevant.", None),
    "feeds": (
        "spine",
        "feeds",
        None,
        "Each feed's health: status (ok, not modified, degraded, silent, throttled, failing, gone, "
        "paused) and why, last poll, errors, article pages that failed in the recent polls, parse "
        "warnings, the last new entry, next due.",
    ),
    "health": ("service", "health", "Exit 0 when the daemon is alive (recent heartbeat), else 1.", None),
    "init": ("service", "init", "Write a starter config and the default rules into a folder.", None),
    "log": ("log", "log_cmd", None, "Matched stories, newest first."),
    "match": ("matching", "match", "Run the rules over files and explain every match.", None),
    "notify": ("alerting", "notify", "Send a test message to a channel.", None),
    "prune": (
        "spine",
        "prune",
        None,
        "Prune unmatched articles past keep_days now, and shrink the write-ahead log.",
    ),
    "rules": ("matching", "rules", "Rule files: draft rules from seeds, statistics.", None),
    "run": ("spine", "run", None, "Poll the configured feeds (forever, or --once)."),
    "search": ("log", "search", "Full-text search over every stored article.", None),
    "serve": ("review", "serve", None, "The review web page (and Datasette over the database)."),
    "show": ("log", "show", None, "One article: metadata, why it matched, its story and its alerts."),
    "status": ("status", "status", "The database: size, counts, outbox, age of the log.", None),
    "worker": (
        "worker",
        "worker",
        "Read feeds and pages for `watcher run` through the broker ([workers] broker).",
        None,
    ),
}
# Modules that add subcommands to a group defined elsewhere: `rules suggest`,
# `rules near-misses` (relevance) and `rules stats` (review).
EXTENDED_BY: Mapping[str, tuple[str, ...]] = {"rules": ("relevance", "review")}


class LazyGroup(WatcherGroup):
    """The ``watcher`` group: its commands come from :data:`COMMANDS`, each
    module imported when one of its commands is asked for; ``--help`` lists
    them from the index alone."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(load(cmd_name), cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:  # "Did you mean ...?" among every command, loaded or not
            no_such = getattr(click.exceptions, "NoSuchCommand", None)  # click >= 8.4
            if no_such is None or not isinstance(exc, no_such):
                raise
            raise no_such(exc.command_name, possibilities=self.list_commands(ctx), ctx=exc.ctx) from None

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list:
        """Shell completion of a command name, from the index (no command's module imported)."""
        from click.shell_completion import CompletionItem

        commands = [(name, self.commands.get(name) or listed(name)) for name in self.list_commands(ctx)]
        return [
            CompletionItem(name, help=command.get_short_help_str())
            for name, command in commands
            if name.startswith(incomplete) and not command.hidden
        ] + click.Command.shell_complete(self, ctx, incomplete)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, with the commands not loaded read from the index."""
        commands = [(name, self.commands.get(name) or listed(name)) for name in self.list_commands(ctx)]
        commands = [(name, command) for name, command in commands if not command.hidden]
        if not commands:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in commands)
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in commands])


def load(name: str) -> click.Command:
    """The command ``name`` of :data:`COMMANDS`, its module imported; it takes
    ``--config PATH`` after its name too."""
    module, attribute, _, _ = COMMANDS[name]
    command: click.Command = getattr(_imported(module), attribute)
    for extension in EXTENDED_BY.get(name, ()):
        _imported(extension)
    accept_config_option(command)
    return command


def _imported(module: str) -> ModuleType:
    """``watcher.cli.<module>``, imported by an import statement's machinery
    (``python -X importtime`` lists what it costs; importlib.import_module's is not)."""
    __import__(f"watcher.cli.{module}")
    return sys.modules[f"watcher.cli.{module}"]


def listed(name: str) -> click.Command:
    """A stand-in for the command ``name`` as ``--help`` lists it (nothing imported)."""
    _, _, short_help, help_text = COMMANDS[name]
    return click.Command(name, short_help=short_help, help=help_text)
