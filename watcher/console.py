"""What every CLI command shares: finding and loading the config, opening the
store, and turning user mistakes into a message and exit code 2."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import click

from watcher import config as config_mod
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
