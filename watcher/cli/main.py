"""The ``watcher`` command: a thin shell over the library.

Each command lives in ``watcher/cli/<noun>.py`` and is listed in the index
:mod:`watcher.cli.commands`, which imports its module only when it runs.
Every command reads the config from ``--config PATH`` (given before or after
the command's name), else ``$WATCHER_CONFIG``, else ``./watcher.toml``. User
mistakes exit 2 with a message, never a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from watcher import __version__
from watcher.cli.commands import LazyGroup
from watcher.cli.console import CONFIG_HELP, CliContext


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    invoke_without_command=True,
)
@click.option("--config", "config_path", metavar="PATH", default=None, help=CONFIG_HELP)
@click.version_option(__version__, "-V", "--version", prog_name="watcher", message="%(prog)s %(version)s")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Self-hosted news watcher: feeds in, explained matches, one alert per story.

    New here? `watcher init` writes a starter config and the default rules
    into this folder; then `watcher check` and `watcher run --once`.
    """
    ctx.obj = CliContext.create(config_path, environ=os.environ, cwd=Path.cwd())
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(prog_name="watcher"))
