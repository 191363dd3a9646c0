"""What every CLI command shares: finding and loading the config and the
rules, opening the store, fitting tables to the terminal, and turning errors
into exit codes — in one place, :meth:`WatcherGroup.main`:

* a :class:`~watcher.errors.UserError` (config, rules, database path, a bad
  option value) and a command-line mistake: its message on one line, exit 2;
* any other :class:`~watcher.errors.WatcherError`: its message, exit 1;
* Ctrl-C: "interrupted", exit 130;
* anything else is a bug and keeps its traceback (exit 1).

Commands therefore let the library's errors through; they call :func:`fail`
only for mistakes the library cannot know about (an option's name, a
command-specific hint).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from watcher import errors, timestamp

# The config, the store and the rest of the library are imported when a command
# needs them: `watcher --help` loads click and the commands' definitions only.
if TYPE_CHECKING:
    from watcher import config as config_mod
    from watcher.match.rules import RuleSet
    from watcher.store.database import Store

EXIT_FAILURE = 1  # a WatcherError that is not the user's mistake
EXIT_USER_ERROR = 2  # a mistake in the config, rules or command line
EXIT_FEEDS_FAILED = 3  # `run --once` completed its pass, but some feeds failed
EXIT_INTERRUPTED = 130  # the shell's convention for Ctrl-C (128 + SIGINT)
CONFIG_HELP = "Config file (default: $WATCHER_CONFIG, else ./watcher.toml)."


def utc_now() -> datetime:
    """The real clock, handed to the library by the shells (the library never reads it)."""
    return datetime.now(timezone.utc)


def fail(message: str, code: int = EXIT_USER_ERROR) -> NoReturn:
    click.echo(f"watcher: {message}", err=True)
    raise SystemExit(code)


def exit_code(error: errors.WatcherError) -> int:
    """The exit code for an error of the tree: 2 for the user's mistakes, else 1."""
    return EXIT_USER_ERROR if isinstance(error, errors.UserError) else EXIT_FAILURE


problems_message = errors.listing


class WatcherGroup(click.Group):
    """click's group, but every command-line mistake is one line naming the
    command and where to look, and Ctrl-C is a short message (exit 130)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # `watcher rules`: its help, as --help shows it
            click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            code = 0
        except click.UsageError as exc:
            _usage_error(exc)
        except click.ClickException as exc:  # e.g. -o FILE that cannot be opened
            fail(
                _sentence(exc.format_message()), EXIT_USER_ERROR if exc.exit_code in (1, 2) else exc.exit_code
            )
        except errors.WatcherError as exc:
            fail(str(exc), exit_code(exc))
        except (click.Abort, KeyboardInterrupt):
            fail("interrupted", EXIT_INTERRUPTED)
        raise SystemExit(code if isinstance(code, int) else 0)

    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta["watcher.command"] = (name, command)
        return name, command, rest

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # click leaves out the context of some parse errors
            if exc.ctx is None and "watcher.command" in ctx.meta:
                name, command = ctx.meta["watcher.command"]
                exc.ctx = click.Context(command, info_name=name, parent=ctx)
            raise


def accept_config_option(command: click.Command) -> None:
    """Let ``command`` (and each command of a group, of its sub-groups) take
    ``--config PATH`` after its name too: ``watcher check --config FILE`` is the
    same as ``watcher --config FILE check``."""
    if not any("--config" in getattr(p, "opts", ()) for p in command.params):
        command.params.append(
            click.Option(
                ["--config"],
                metavar="PATH",
                expose_value=False,
                is_eager=True,
                callback=_set_config,
                help=CONFIG_HELP,
            )
        )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            accept_config_option(sub)


def _set_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    obj = ctx.find_object(CliContext)
    if obj is not None:
        obj.use_config(value)


def _usage_error(exc: click.UsageError) -> None:
    command = exc.ctx.command_path if exc.ctx else "watcher"
    message = _sentence(exc.format_message())
    if message.endswith("?"):  # "Did you mean 'status'?"
        fail(message if command == "watcher" else f"{command}: {message}")
    wants_usage = message.startswith(("missing argument", "got unexpected extra argument"))
    hint = f"usage: {exc.ctx.get_usage().removeprefix('Usage: ')}; " if exc.ctx and wants_usage else ""
    click.echo(f"{command}: {message} ({hint}see `{command} --help`)", err=True)
    raise SystemExit(EXIT_USER_ERROR)


def _sentence(message: str) -> str:
    message = " ".join(message.split()).rstrip(".")
    return message[:1].lower() + message[1:]


class Id(click.ParamType):
    """A row id (a whole number from 1), with where to find one when it is not."""

    name = "ID"

    def __init__(self, thing: str, listed_by: str) -> None:
        self.thing, self.listed_by = thing, listed_by

    def convert(self, value, param, ctx):
        try:
            number = int(str(value).strip().lstrip("#"))
        except ValueError:
            number = 0
        if number < 1:
            self.fail(f"{value!r} is not {self.thing} id: give the number {self.listed_by} shows", param, ctx)
        return number


@dataclass
class CliContext:
    config_path: Path
    environ: Mapping[str, str]
    _config: config_mod.Config | None = field(default=None, repr=False)
    from_env: bool = False

    @classmethod
    def create(cls, explicit: str | None, *, environ: Mapping[str, str], cwd: Path) -> CliContext:
        from watcher import config as config_mod

        return cls(
            config_mod.resolve_path(explicit, environ=environ, cwd=cwd),
            environ,
            from_env=not explicit and bool(environ.get(config_mod.CONFIG_ENV)),
        )

    def use_config(self, explicit: str) -> None:
        """``--config PATH`` given after the command's name (it wins over the one before)."""
        from watcher import config as config_mod

        self.config_path = config_mod.resolve_path(explicit, environ=self.environ, cwd=Path.cwd())
        self.from_env, self._config = False, None

    def config(self) -> config_mod.Config:
        from watcher import config as config_mod

        if self._config is None:
            if self.config_path.is_dir():
                inside = self.config_path / config_mod.DEFAULT_CONFIG_NAME
                fail(
                    f"{self.config_path} is a folder, not a config file; pass --config "
                    f"{inside if inside.is_file() else 'PATH/TO/watcher.toml'}"
                )
            try:
                self._config = config_mod.load(self.config_path, environ=self.environ)
            except errors.ConfigError as exc:
                if not self.from_env:
                    raise
                raise errors.ConfigError(f"{exc.path}{self._source()}", exc.problems) from None
            command = click.get_current_context(silent=True)
            if command is not None and command.info_name in ("check", "run"):
                for warning in self._config.warnings:  # e.g. secrets in a file others may read
                    click.echo(f"watcher: warning: {warning}", err=True)
        return self._config

    def _source(self) -> str:
        """Where the config path came from, when it was not --config."""
        from watcher import config as config_mod

        return f" (from ${config_mod.CONFIG_ENV})" if self.from_env else ""

    def store(self) -> Store:
        """The configured database, which must exist: the commands that read the
        log never create an empty one (DatabaseOpenError when it is missing or
        cannot be used)."""
        from watcher import app

        config = self.config()
        if str(config.database) != ":memory:" and not config.database.exists():
            problem = app.database_problem(config)
            raise errors.DatabaseOpenError(
                problem
                or f"no database yet at {config.database}: run `watcher run --once` first "
                "(it polls the feeds and creates it)"
            )
        return app.open_store(config)

    def rules(self, paths: Sequence[str | Path] = ()) -> RuleSet:
        """The rules in ``paths`` (no config read), else the configured rules;
        their warnings are shown here, once, for every command. A RulesError
        lists what is wrong (exit 2)."""
        from watcher.match.rules import load_rules

        rule_set = load_rules([Path(p) for p in paths] if paths else list(self.config().rules))
        for warning in rule_set.warnings:
            click.echo(f"watcher: warning: {warning}", err=True)
        return rule_set

    def reloader(self):
        """Reads the config and the rules again (for the daemon's SIGHUP):
        a ConfigError/RulesError names what is wrong; warnings go to the log."""
        import logging

        from watcher import config as config_mod
        from watcher.match.rules import load_rules

        def load():
            config = config_mod.load(self.config_path, environ=self.environ)
            rules = load_rules(list(config.rules))
            for warning in (*config.warnings, *rules.warnings):
                logging.getLogger("watcher.daemon").warning("%s", warning)
            return config, rules

        return load

    clock = staticmethod(utc_now)


short_time = timestamp.short


def emit_json(obj: object) -> None:
    """One JSON object on a line of standard output (--json)."""
    import json

    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


def terminal_width() -> int | None:
    """Columns to fit tables to: $COLUMNS, else the terminal's width; None when
    the output goes to a pipe or a file (scripts and grep get whole cells)."""
    import shutil
    import sys

    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    try:
        return shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    except (AttributeError, ValueError, OSError):
        return None


def table(
    records: list[dict],
    columns: list[str],
    *,
    width: int = 60,
    flex: Sequence[str | tuple[str, int]] = (),
    headers: Mapping[str, str] | None = None,
    max_width: int | None = None,
) -> str:
    """A plain-text table for people (``--json`` is for scripts). Cells are cut
    at ``width``; then the ``flex`` columns, in that order, are cut further
    (each down to its floor: 12 characters, or ``(column, floor)``) until the
    table fits the terminal. A column may be named twice, with a lower floor."""
    if not records:
        return "(none)"
    names = [(headers or {}).get(c, c.replace("_", " ")) for c in columns]
    rows = [[_cell(c, r.get(c), width) for c in columns] for r in records]
    limit = max_width or terminal_width()
    widths = [max(len(n) + 2, *(len(row[i]) for row in rows)) for i, n in enumerate(names)]
    excess = sum(widths) + 2 * (len(columns) - 1) - limit if limit else 0
    for item in flex:
        name, floor = item if isinstance(item, tuple) else (item, 12)
        i = columns.index(name)
        if excess <= 0 or widths[i] <= floor:
            continue
        room = max(floor, len(names[i]) + 2, widths[i] - excess)
        excess -= widths[i] - room
        widths[i] = room
        for row in rows:
            row[i] = cut(row[i], room)
    return layout(rows, names)


# -- the table's layout: tabulate's "simple" format, without importing tabulate (its import
# reads every installed distribution's metadata: more start-up time than click itself).
# Numbers (whole columns of them) are right-aligned on their decimal point, text is
# left-aligned; a column is at least its header plus two wide; two spaces between columns.

_KINDS = ("none", "bool", "int", "float", "str")  # from the most to the least specific
_GROUPED_NUMBER = re.compile(r"^(([+-]?[0-9]{1,3})(?:,([0-9]{3}))*)?(?(1)\.[0-9]*|\.[0-9]+)?$")


def layout(rows: Sequence[Sequence[str]], names: Sequence[str]) -> str:
    """``rows`` of text cells under ``names``, as lines of aligned columns."""
    columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in names]
    lines: list[list[str]] = [[] for _ in range(len(rows) + 2)]
    for name, cells in zip(names, columns, strict=True):
        kind = max((_kind(c) for c in cells), key=_KINDS.index, default="none")
        numeric = kind in ("int", "float")
        if kind == "float":
            cells = [_float_text(c) for c in cells]
        if numeric:  # line the decimal points up
            decimals = [_decimals(c) for c in cells]
            most = max(decimals, default=-1)
            cells = [c + " " * (most - d) for c, d in zip(cells, decimals, strict=True)]
        width = max(len(name) + 2, *(len(c) for c in cells))
        lines[0].append(name.rjust(width) if numeric else name.ljust(width))
        lines[1].append("-" * width)
        for line, cell in zip(lines[2:], cells, strict=True):
            line.append(cell.rjust(width) if numeric else cell.ljust(width))
    return "\n".join("  ".join(line).rstrip() for line in lines)


def _kind(cell: str) -> str:
    if not cell:
        return "none"
    if cell in ("True", "False"):
        return "bool"
    if _is_int(cell) or ("." not in cell and _GROUPED_NUMBER.match(cell)):
        return "int"
    if _is_number(cell) or _GROUPED_NUMBER.match(cell):
        return "float"
    return "str"


def _is_int(cell: str) -> bool:
    try:
        int(cell)
    except ValueError:
        return False
    return True


def _is_number(cell: str) -> bool:
    try:
        number = float(cell)
    except ValueError:
        return False
    return not (math.isinf(number) or math.isnan(number)) or cell.lower() in ("inf", "-inf", "nan")


def _float_text(cell: str) -> str:
    if not cell:
        return cell
    try:
        return format(float(cell.replace(",", "")), "g")
    except ValueError:
        return cell


def _decimals(cell: str) -> int:
    """Digits after the decimal point (or the exponent's mark); -1 for whole numbers and text."""
    if not (_is_number(cell) or _GROUPED_NUMBER.match(cell)) or _is_int(cell):
        return -1
    point = cell.rfind(".")
    point = cell.lower().rfind("e") if point < 0 else point
    return len(cell) - point - 1 if point >= 0 else -1


def _cell(key: str, value, width: int = 60) -> str:
    if value is None:
        return "-"
    if key.endswith(("_poll", "_due", "_at", "_success", "published")) or key in ("time",):
        value = short_time(str(value))
    return cut(" ".join(printable(str(value)).split()), width)


_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Text from feeds, safe for a terminal: no escapes, carriage returns or bidi
    overrides (tabs and newlines stay)."""
    return _UNPRINTABLE.sub("", text)


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def setup_logging(
    level: str, config: config_mod.Config, *, fmt: str = "text", environ: Mapping[str, str] = os.environ
) -> None:
    """Log to stderr (as :mod:`watcher.cli.logformat` says: plain text, the
    journal's form under systemd, or JSON lines); channel secrets are redacted
    from every record, and apprise/urllib3 (which print tokens at DEBUG) are
    kept at WARNING."""
    import logging

    from watcher.cli.logformat import formatter

    handler = logging.StreamHandler()
    handler.setFormatter(formatter(fmt, environ))
    try:
        from watcher.notify.redaction import install as install_redaction

        header_values = [value for feed in config.feeds for name, value in feed.headers]
        install_redaction(handler, config.channels, secrets=header_values)
    except ImportError:  # pragma: no cover - the alerts part is not built yet
        pass
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in (
        "apprise",
        "urllib3",
        "httpx",
        "httpcore",
        "apscheduler",  # its executor's INFO line per job run (the scheduler's own log is the daemon's)
        "trafilatura",
        "htmldate",
        "courlan",
        "charset_normalizer",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
