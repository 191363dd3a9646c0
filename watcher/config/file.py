"""The configuration file: where it is, reading its TOML, the ``[watcher]``
section and the ``Config`` tree the sections make together."""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from watcher.config.alerts import AlertsConfig, read_alerts
from watcher.config.channels import ChannelConfig, read_channels
from watcher.config.dedup import DedupConfig, read_dedup
from watcher.config.extraction import ExtractionConfig, read_extraction
from watcher.config.feeds import FeedConfig, read_feeds
from watcher.config.network import NetworkConfig, read_network
from watcher.config.reader import Reader, Table
from watcher.config.serve import ServeConfig, read_serve
from watcher.config.workers import WorkersConfig, read_workers
from watcher.errors import ConfigError

DEFAULT_USER_AGENT = "watcher/0.1 (+https://github.com/watcher/watcher; self-hosted news watcher)"
CONFIG_ENV = "WATCHER_CONFIG"
DEFAULT_CONFIG_NAME = "watcher.toml"
SECTIONS = ("watcher", "network", "extraction", "dedup", "alerts", "serve", "workers", "feeds", "channels")
WATCHER_KEYS = {"database", "rules", "poll_interval", "user_agent", "keep_days"}


@dataclass(frozen=True)
class Config:
    path: Path
    database: Path
    rules: tuple[Path, ...]
    poll_interval: float
    user_agent: str
    keep_days: float | None
    network: NetworkConfig
    extraction: ExtractionConfig
    dedup: DedupConfig
    alerts: AlertsConfig
    serve: ServeConfig
    feeds: tuple[FeedConfig, ...]
    channels: tuple[ChannelConfig, ...]
    workers: WorkersConfig = field(default_factory=WorkersConfig)  # distributed mode ([workers] broker)
    warnings: tuple[str, ...] = ()  # shown by every command; the config still loads

    def channel(self, name: str) -> ChannelConfig | None:
        return next((c for c in self.channels if c.name == name), None)


def resolve_path(explicit: str | None, *, environ: Mapping[str, str], cwd: Path) -> Path:
    """--config PATH, else $WATCHER_CONFIG, else ./watcher.toml."""
    if explicit:
        return Path(explicit)
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return cwd / DEFAULT_CONFIG_NAME


def load(path: Path | str, *, environ: Mapping[str, str] | None = None) -> Config:
    """The validated configuration in ``path``; ConfigError lists every problem."""
    path = Path(path)
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ConfigError(
            path,
            [
                (
                    "not readable: tables or arrays are nested too deeply (hundreds of "
                    "levels); no watcher setting nests more than two"
                )
            ],
        ) from None
    except FileNotFoundError:
        raise ConfigError(
            path,
            [
                "file not found; pass --config PATH, set WATCHER_CONFIG, or copy "
                "config.example.toml to watcher.toml"
            ],
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            path,
            [
                f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                "save the file as UTF-8"
            ],
        ) from None
    except OSError as exc:
        raise ConfigError(path, [f"cannot read the file: {exc.strerror or exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    return read_config(Reader(path, environ), raw)


def read_config(r: Reader, raw: Table) -> Config:
    """Every section of ``raw``; raises ConfigError with all the problems found."""
    for unknown in sorted(set(raw) - set(SECTIONS)):
        r.fail(
            unknown,
            "unknown section; known sections are [watcher], [network], "
            "[extraction], [dedup], [alerts], [serve], [workers], [[feeds]], [[channels]]",
        )
    w = r.section(raw, "watcher", WATCHER_KEYS)
    database = r.typed(w, "watcher.", "database", str, "watcher.db")
    rules = r.typed(w, "watcher.", "rules", list, ["rules/"])
    if not all(isinstance(rule, str) for rule in rules) or not rules:
        r.fail("watcher.rules", 'must be a non-empty list of files or folders, e.g. ["rules/"]')
        rules = ["rules/"]
    poll_interval = r.duration(w, "watcher.", "poll_interval", 900.0)
    keep_days = r.typed(w, "watcher.", "keep_days", (int, float), None)
    if keep_days is not None and not 0 < keep_days <= 36500:
        r.fail(
            "watcher.keep_days",
            "must be a number of days above zero and at most 36,500 (or leave it out to keep everything)",
        )
        keep_days = None
    network = read_network(r, raw)
    config = Config(
        path=r.path,
        database=Path(database) if database == ":memory:" else r.path_value(database),
        rules=tuple(r.path_value(rule) for rule in rules),
        poll_interval=poll_interval,
        user_agent=r.typed(w, "watcher.", "user_agent", str, DEFAULT_USER_AGENT),
        keep_days=keep_days,
        network=network,
        extraction=read_extraction(r, raw),
        dedup=read_dedup(r, raw),
        alerts=read_alerts(r, raw),
        serve=read_serve(r, raw),
        feeds=read_feeds(r, raw, poll_interval),
        channels=read_channels(r, raw, network.proxy),
        workers=read_workers(r, raw),
    )
    if r.problems:
        raise ConfigError(r.path, r.problems)
    warning = private_file_warning(r.path, r.secrets)
    return replace(config, warnings=(warning,)) if warning else config


def private_file_warning(path: Path, secrets: list[str]) -> str | None:
    """A warning when ``path`` holds ``secrets`` (their keys) and other users may read it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if not secrets or not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return None
    return (
        f"{path} holds secrets ({', '.join(secrets)}) and other users may read it (mode "
        f"{stat.S_IMODE(mode):o}); run `chmod 600 {path}`, or move them to the environment "
        "(url_env, password_env, proxy_env)"
    )
