"""``watcher init`` (a starter config and the default rules in a folder) and
``watcher health`` (is the daemon alive? for HEALTHCHECKs and monitors)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from watcher import __version__, defaults
from watcher.cli.console import CliContext, fail
from watcher.duration import DurationError, parse_duration

EXIT_UNHEALTHY = 1


@click.command(short_help="Write a starter config and the default rules into a folder.")
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--database",
    metavar="PATH",
    default=None,
    help="Where the config puts the database (default: watcher.db beside the config), "
    "e.g. /var/lib/watcher/watcher.db when the config lives in /etc/watcher.",
)
def init(folder: Path, database: str | None) -> None:
    """Write FOLDER/watcher.toml (the annotated example config, with real
    feeds) and the default rule pack into FOLDER/rules/ (default FOLDER: the
    current one). Nothing is ever overwritten: if one of these files exists,
    nothing is written."""
    from watcher.config import DEFAULT_CONFIG_NAME

    try:
        sources = {folder / DEFAULT_CONFIG_NAME: defaults.example_config()}
        sources |= {folder / "rules" / f.name: f for f in defaults.rule_files()}
    except defaults.MissingDefaults as exc:
        fail(str(exc), 1)
    existing = [t for t in sources if t.exists() or t.is_symlink()]
    if existing:
        fail(
            f"{existing[0]} already exists{' (and ' + str(len(existing) - 1) + ' more)' if len(existing) > 1 else ''}; "
            "`watcher init` never overwrites: move it away, or give another folder (`watcher init DIR`)"
        )
    for where in (folder, folder / "rules"):
        if where.exists() and not where.is_dir():
            fail(f"{where} is a file, not a folder; give another folder (`watcher init DIR`)")
    try:
        (folder / "rules").mkdir(parents=True, exist_ok=True)
        for target, source in sources.items():
            text = source.read_text(encoding="utf-8")
            if target.name == DEFAULT_CONFIG_NAME:
                text = _with_database(text, database) if database else text
                text = f"# Written by `watcher init` (watcher {__version__}); edit the feeds, then `watcher check`.\n{text}"
            with open(target, "x", encoding="utf-8") as out:  # "x": never over a file made meanwhile
                out.write(text)
            if target.name == DEFAULT_CONFIG_NAME:
                target.chmod(0o600)  # it will hold a password or a channel URL one day
    except OSError as exc:
        fail(f"cannot write into {folder} ({exc.strerror or exc}); give a folder this user can write to")
    config = folder / DEFAULT_CONFIG_NAME
    hint = "" if folder.resolve() == Path.cwd().resolve() else f" --config {config}"
    click.echo(
        f"wrote {config} and {len(sources) - 1} file(s) of the default rules in {folder / 'rules'}\n"
        f"next: edit the feeds (and [[channels]] for alerts) in {config}, then\n"
        f"  watcher{hint} check          # validates the config, the rules and the channels\n"
        f"  watcher{hint} run --once     # one pass over the feeds; `watcher{hint} log` shows what matched"
    )


def _with_database(text: str, database: str) -> str:
    """The example config with its ``database = ...`` line pointing at ``database``."""
    value = json.dumps(str(Path(database).expanduser().absolute()))  # a TOML basic string
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("database = "):
            comment = line.partition("#")[2]
            lines[i] = f"database = {value}" + (f"   #{comment}" if comment else "\n")
            return "".join(lines)
    raise SystemExit(f"watcher: the example config has no database line to set ({database})")


@click.command(short_help="Exit 0 when the daemon is alive (recent heartbeat), else 1.")
@click.option(
    "--max-age",
    default="3m",
    show_default=True,
    metavar="DURATION",
    help="How old the daemon's last heartbeat may be (with a timer running `run --once`: more than its period).",
)
@click.option("--json", "as_json", is_flag=True, help="The verdict as one JSON object.")
@click.pass_obj
def health(ctx: CliContext, max_age: str, as_json: bool) -> None:
    """Whether the daemon (`watcher run`) is alive: its database opens and its
    scheduler's last heartbeat is recent. Exit 0 when healthy, 1 when not (a
    container's HEALTHCHECK, a monitor). Reads the database; writes nothing."""
    from watcher.daemon.heartbeat import check

    try:
        seconds = parse_duration(max_age)
    except DurationError as exc:
        fail(f"--max-age: {exc}")
    verdict = check(ctx.config().database, ctx.clock(), max_age=seconds)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "healthy": verdict.healthy,
                    "reason": verdict.reason,
                    "heartbeat": verdict.heartbeat,
                    "heartbeat_age_seconds": verdict.age,
                }
            )
        )
    else:
        click.echo(f"{'healthy' if verdict.healthy else 'unhealthy'}: {verdict.reason}")
    if not verdict.healthy:
        raise SystemExit(EXIT_UNHEALTHY)


COMMANDS = [init, health]
