"""What every CLI command shares: finding and loading the config, opening the
store, and turning user mistakes into a message and exit code 2."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import click

from watcher import config as config_mod, timestamp
from watcher.store import Store, StoreError

EXIT_USER_ERROR = 2


def utc_now() -> datetime:
    """The real clock, handed to the library by the shells (the library never reads it)."""
    return datetime.now(timezone.utc)


def fail(message: str, code: int = EXIT_USER_ERROR) -> None:
    click.echo(f"watcher: {message}", err=True)
    raise SystemExit(code)


@dataclass
class CliContext:
    config_path: Path
    environ: Mapping[str, str]
    _config: config_mod.Config | None = field(default=None, repr=False)

    @classmethod
    def create(cls, explicit: str | None, *, environ: Mapping[str, str], cwd: Path) -> "CliContext":
        return cls(config_mod.resolve_path(explicit, environ=environ, cwd=cwd), environ)

    def config(self) -> config_mod.Config:
        if self._config is None:
            try:
                self._config = config_mod.load(self.config_path, environ=self.environ)
            except config_mod.ConfigError as exc:
                fail(str(exc))
        return self._config

    def store(self) -> Store:
        cfg = self.config()
        try:
            return Store.open(cfg.database)
        except StoreError as exc:
            fail(str(exc))
            raise  # unreachable

    clock = staticmethod(utc_now)


short_time = timestamp.short


def table(records: list[dict], columns: list[str], *, width: int = 60) -> str:
    """A plain-text table for people (``--json`` is for scripts)."""
    from tabulate import tabulate

    def cell(key: str, value) -> str:
        if value is None:
            return "-"
        if key.endswith(("_poll", "_due", "_at", "_success", "published")) or key in ("time",):
            value = short_time(str(value))
        text = " ".join(str(value).split())
        return text if len(text) <= width else text[: width - 1] + "…"

    rows = [[cell(c, r.get(c)) for c in columns] for r in records]
    return tabulate(rows, headers=[c.replace("_", " ") for c in columns]) if rows else "(none)"


def setup_logging(level: str, config: config_mod.Config) -> None:
    """Log to stderr; channel secrets are redacted from every record, and
    apprise/urllib3 (which print tokens at DEBUG) are kept at WARNING."""
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    try:
        from watcher.redaction import install as install_redaction
        install_redaction(handler, config.channels)
    except ImportError:  # pragma: no cover - the alerts part is not built yet
        pass
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("apprise", "urllib3", "httpx", "httpcore", "apscheduler.executors", "trafilatura",
                  "htmldate", "courlan", "charset_normalizer"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
