"""The ``watcher`` command: a thin shell over the library.

Each command group lives in ``watcher/cli/<noun>.py`` (its ``COMMANDS``) and is added here.
Every command reads the config from ``--config PATH``, else ``$WATCHER_CONFIG``,
else ``./watcher.toml``. User mistakes exit 2 with a message, never a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from watcher.cli import alerting, log, matching, review, spine
from watcher.cli.console import CliContext, WatcherGroup


@click.group(cls=WatcherGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    default=None,
    help="Config file (default: $WATCHER_CONFIG, else ./watcher.toml).",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Self-hosted news watcher: feeds in, explained matches, one alert per story."""
    ctx.obj = CliContext.create(config_path, environ=os.environ, cwd=Path.cwd())


for module in (spine, matching, alerting, log, review):
    for command in module.COMMANDS:
        main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(prog_name="watcher"))
