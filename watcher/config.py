"""Configuration: one TOML file, validated once at start-up.

Every problem is collected and reported together, each naming the file, the
key and the fix. Unknown keys are refused (a typo must not silently become a
default). The result is a tree of frozen dataclasses; nothing else in the
program reads TOML or the environment for settings.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from watcher.duration import DurationError, parse_duration
from watcher.errors import ConfigError

DEFAULT_USER_AGENT = "watcher/0.1 (+https://github.com/watcher/watcher; self-hosted news watcher)"
SEVERITIES = ("low", "medium", "high", "critical")


def severity_rank(severity: str | None) -> int:
    """Position in SEVERITIES (lowest first); -1 for none or an unknown one."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


CHANNEL_MODES = ("immediate", "digest")
CHANNEL_FORMATS = ("text", "markdown", "html")
CONFIG_ENV = "WATCHER_CONFIG"
MIN_EXTRACTION_MB = 192  # the worker's own imports take ~100 MB
DEFAULT_CONFIG_NAME = "watcher.toml"
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
DAY = 86400.0
MAX_TIMEOUT = 3600.0  # seconds: no request or page may hold a worker longer
MAX_PERIOD = 365 * DAY  # intervals, backoffs, digests
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,62}[a-z0-9_])?)*\.?$"
)


@dataclass(frozen=True)
class NetworkConfig:
    timeout: float = 30.0  # total deadline per request, seconds
    max_feed_bytes: int = 10 * 1024 * 1024
    max_page_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    allow_private: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    max_connections: int = 4  # feeds polled at once
    proxy: str | None = field(default=None, repr=False)  # feeds, pages and alerts; may hold a password


@dataclass(frozen=True)
class ExtractionConfig:
    timeout: float = 20.0  # seconds per page
    memory_mb: int = 768  # address-space bound of the extraction worker


@dataclass(frozen=True)
class DedupConfig:
    window_days: float = 7.0  # only articles this recent are compared
    max_distance: int = 18  # SimHash bits (of 64) within which a stored article is a candidate
    min_resemblance: float = 0.4  # share of word 3-grams in common that joins a candidate's story


@dataclass(frozen=True)
class AlertsConfig:
    max_attempts: int = 8
    backoff: float = 30.0  # first retry delay, seconds; doubles each try
    max_backoff: float = 6 * 3600.0
    notify_new_rules: bool = False  # alert again when a story copy matches a new rule


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    password: str | None = field(default=None, repr=False)
    allow_sql: bool = False  # Datasette's arbitrary SQL (needs the password)
    allowed_hosts: tuple[str, ...] = ()  # Host names answered besides loopback names and IPs


@dataclass(frozen=True)
class FeedConfig:
    url: str
    name: str
    interval: float  # seconds between polls
    fetch_article: bool = True


@dataclass(frozen=True)
class ChannelConfig:
    name: str
    url: str = field(repr=False)  # the apprise URL: a secret, never printed
    source: str = ""  # 'url' or 'url_env:NAME', for messages
    rules: tuple[str, ...] = ("*",)
    severity: str | None = None
    mode: str = "immediate"
    digest_every: str = "1h"
    format: str = "text"
    proxy: str | None = field(default=None, repr=False)  # [network] proxy, which alerts go through


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
    return _Validator(path, environ).config(raw)


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


def proxy_problem(value: str) -> str | None:
    """Why ``value`` cannot be the proxy URL, or None (never shows the value: it may hold a password)."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return 'is not a URL; write it as scheme://host:port, e.g. "http://proxy.example:3128"'
    if parts.scheme.lower() not in PROXY_SCHEMES or not parts.hostname:
        return (
            'must be a proxy URL such as "http://proxy.example:3128" or "socks5://127.0.0.1:1080" '
            f"(schemes: {', '.join(PROXY_SCHEMES)})"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "must be scheme://[user:password@]host:port, without a path"
    if port == 0:
        return "needs a TCP port (1-65535)"
    return None


class _Validator:
    """Walks the TOML tree once, collecting every problem."""

    def __init__(self, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self.base = path.parent
        self.environ = environ
        self.problems: list[str] = []
        self.secrets: list[str] = []  # keys holding a secret in the file itself

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def section(self, raw: Mapping, key: str, allowed: set[str]) -> dict:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            self.fail(key, "must be a table, e.g. [" + key + "]")
            return {}
        for unknown in sorted(set(value) - allowed):
            self.fail(f"{key}.{unknown}", f"unknown key; allowed keys are: {', '.join(sorted(allowed))}")
        return value

    def typed(self, table: Mapping, prefix: str, key: str, kind: type | tuple, default):
        if key not in table:
            return default
        value = table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            value = None
        if not isinstance(value, kinds):
            names = " or ".join(
                k.__name__.replace("str", "string")
                .replace("int", "integer")
                .replace("float", "number")
                .replace("bool", "true/false")
                for k in kinds
            )
            self.fail(f"{prefix}{key}", f"must be a {names}, got {table[key]!r}")
            return default
        return value

    def duration(
        self, table: Mapping, prefix: str, key: str, default: float, longest: float = MAX_PERIOD
    ) -> float:
        value = given = table.get(key)
        if value is None:
            return default
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(f"{prefix}{key}", f'must be a finite duration such as "30s", got {value}')
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = f"{value:f}s" if isinstance(value, float) else f"{value}s"
        try:
            seconds = parse_duration(str(value))
        except DurationError as exc:
            self.fail(f"{prefix}{key}", str(exc))
            return default
        if seconds <= 0:
            self.fail(f"{prefix}{key}", "must be longer than zero")
            return default
        if not seconds <= longest:
            self.fail(f"{prefix}{key}", f"{str(given)[:40]} is too long; at most {_shown(longest)}")
            return default
        return seconds

    def positive_int(self, table: Mapping, prefix: str, key: str, default: int, largest: int = 2**40) -> int:
        value = self.typed(table, prefix, key, int, default)
        if value <= 0:
            self.fail(f"{prefix}{key}", f"must be a whole number above zero, got {value}")
            return default
        if value > largest:
            self.fail(f"{prefix}{key}", f"must be at most {largest:,}, got {value:,}")
            return default
        return value

    def path_value(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p

    def config(self, raw: dict) -> Config:
        for unknown in sorted(
            set(raw) - {"watcher", "network", "extraction", "dedup", "alerts", "serve", "feeds", "channels"}
        ):
            self.fail(
                unknown,
                "unknown section; known sections are [watcher], [network], "
                "[extraction], [dedup], [alerts], [serve], [[feeds]], [[channels]]",
            )
        w = self.section(raw, "watcher", {"database", "rules", "poll_interval", "user_agent", "keep_days"})
        database = self.typed(w, "watcher.", "database", str, "watcher.db")
        rules = self.typed(w, "watcher.", "rules", list, ["rules/"])
        if not all(isinstance(r, str) for r in rules) or not rules:
            self.fail("watcher.rules", 'must be a non-empty list of files or folders, e.g. ["rules/"]')
            rules = ["rules/"]
        poll_interval = self.duration(w, "watcher.", "poll_interval", 900.0)
        keep_days = self.typed(w, "watcher.", "keep_days", (int, float), None)
        if keep_days is not None and not 0 < keep_days <= 36500:
            self.fail(
                "watcher.keep_days",
                "must be a number of days above zero and at most 36,500 (or leave it out to keep everything)",
            )
            keep_days = None
        network = self.network(raw)
        config = Config(
            path=self.path,
            database=Path(database) if database == ":memory:" else self.path_value(database),
            rules=tuple(self.path_value(r) for r in rules),
            poll_interval=poll_interval,
            user_agent=self.typed(w, "watcher.", "user_agent", str, DEFAULT_USER_AGENT),
            keep_days=keep_days,
            network=network,
            extraction=self.extraction(raw),
            dedup=self.dedup(raw),
            alerts=self.alerts(raw),
            serve=self.serve(raw),
            feeds=self.feeds(raw, poll_interval),
            channels=self.channels(raw, network.proxy),
        )
        if self.problems:
            raise ConfigError(self.path, self.problems)
        warning = private_file_warning(self.path, self.secrets)
        return replace(config, warnings=(warning,)) if warning else config

    def network(self, raw: dict) -> NetworkConfig:
        n = self.section(
            raw,
            "network",
            {
                "timeout",
                "max_feed_bytes",
                "max_page_bytes",
                "max_redirects",
                "allow_private",
                "max_connections",
                "proxy",
                "proxy_env",
            },
        )
        d = NetworkConfig()
        nets = []
        for i, cidr in enumerate(self.typed(n, "network.", "allow_private", list, [])):
            try:
                nets.append(ipaddress.ip_network(str(cidr), strict=False))
            except ValueError:
                self.fail(f"network.allow_private[{i}]", f'{cidr!r} is not a CIDR such as "10.0.0.0/8"')
        redirects = self.typed(n, "network.", "max_redirects", int, d.max_redirects)
        if not 0 <= redirects <= 20:
            self.fail("network.max_redirects", "must be between 0 and 20")
            redirects = d.max_redirects
        return NetworkConfig(
            timeout=self.duration(n, "network.", "timeout", d.timeout, MAX_TIMEOUT),
            max_feed_bytes=self.positive_int(n, "network.", "max_feed_bytes", d.max_feed_bytes),
            max_page_bytes=self.positive_int(n, "network.", "max_page_bytes", d.max_page_bytes),
            max_redirects=redirects,
            allow_private=tuple(nets),
            max_connections=self.positive_int(n, "network.", "max_connections", d.max_connections, 256),
            proxy=self.proxy(n),
        )

    def proxy(self, n: Mapping) -> str | None:
        if "proxy" in n and "proxy_env" in n:
            self.fail("network.proxy", "give proxy or proxy_env, not both")
            return None
        value: object
        if "proxy_env" in n:
            env = self.typed(n, "network.", "proxy_env", str, "")
            value, key = self.environ.get(env, ""), "network.proxy_env"
            if not value:
                self.fail(key, f"environment variable {env} is not set or empty")
                return None
        else:
            value, key = n.get("proxy"), "network.proxy"
            if value is None:
                return None
            if not isinstance(value, str):
                self.fail(key, 'must be a proxy URL in quotes, e.g. proxy = "http://proxy.example:3128"')
                return None
            if "@" in value:
                self.secrets.append(key)
        assert isinstance(value, str)
        problem = proxy_problem(value)
        if problem:
            self.fail(key, f"{problem} (the value is not shown: it may hold a password)")
            return None
        return value

    def extraction(self, raw: dict) -> ExtractionConfig:
        e = self.section(raw, "extraction", {"timeout", "memory_mb"})
        d = ExtractionConfig()
        memory = self.positive_int(e, "extraction.", "memory_mb", d.memory_mb, 1024 * 1024)
        if memory < MIN_EXTRACTION_MB:
            self.fail(
                "extraction.memory_mb",
                f"{memory} MB cannot even load the extractor; "
                f"give at least {MIN_EXTRACTION_MB} (default {d.memory_mb})",
            )
            memory = d.memory_mb
        return ExtractionConfig(
            timeout=self.duration(e, "extraction.", "timeout", d.timeout, MAX_TIMEOUT), memory_mb=memory
        )

    def dedup(self, raw: dict) -> DedupConfig:
        s = self.section(raw, "dedup", {"window_days", "max_distance", "min_resemblance"})
        d = DedupConfig()
        window = self.typed(s, "dedup.", "window_days", (int, float), d.window_days)
        if not 0 < window <= 3650:
            self.fail(
                "dedup.window_days", f"must be a number of days above zero and at most 3,650, got {window}"
            )
            window = d.window_days
        distance = self.typed(s, "dedup.", "max_distance", int, d.max_distance)
        if not 0 <= distance <= 32:
            self.fail("dedup.max_distance", "must be between 0 (exact) and 32 bits")
            distance = d.max_distance
        resemblance = self.typed(s, "dedup.", "min_resemblance", (int, float), d.min_resemblance)
        if not 0 < resemblance <= 1:
            self.fail("dedup.min_resemblance", f"must be above 0 and at most 1 (e.g. 0.4), got {resemblance}")
            resemblance = d.min_resemblance
        return DedupConfig(
            window_days=float(window), max_distance=distance, min_resemblance=float(resemblance)
        )

    def alerts(self, raw: dict) -> AlertsConfig:
        a = self.section(raw, "alerts", {"max_attempts", "backoff", "max_backoff", "notify_new_rules"})
        d = AlertsConfig()
        return AlertsConfig(
            max_attempts=self.positive_int(a, "alerts.", "max_attempts", d.max_attempts, 1000),
            backoff=self.duration(a, "alerts.", "backoff", d.backoff),
            max_backoff=self.duration(a, "alerts.", "max_backoff", d.max_backoff),
            notify_new_rules=self.typed(a, "alerts.", "notify_new_rules", bool, d.notify_new_rules),
        )

    def serve(self, raw: dict) -> ServeConfig:
        s = self.section(
            raw, "serve", {"host", "port", "password", "password_env", "allow_sql", "allowed_hosts"}
        )
        d = ServeConfig()
        password = self.typed(s, "serve.", "password", str, None)
        if password:
            self.secrets.append("serve.password")
        env = self.typed(s, "serve.", "password_env", str, None)
        if env is not None:
            password = self.environ.get(env)
            if not password:
                self.fail("serve.password_env", f"environment variable {env} is not set or empty")
        port = self.typed(s, "serve.", "port", int, d.port)
        if not 0 < port < 65536:
            self.fail("serve.port", f"must be a TCP port (1-65535), got {port}")
            port = d.port
        allow_sql = self.typed(s, "serve.", "allow_sql", bool, False)
        if allow_sql and not password:
            self.fail(
                "serve.allow_sql",
                "arbitrary SQL on the web page needs serve.password (or "
                "password_env): without one, any local program or web page could run it",
            )
            allow_sql = False
        hosts = []
        for i, host in enumerate(self.typed(s, "serve.", "allowed_hosts", list, [])):
            if not isinstance(host, str) or not _HOST_NAME.match(host.strip().lower()):
                self.fail(
                    f"serve.allowed_hosts[{i}]",
                    f"{host!r} is not a host name; write the name "
                    'alone, without scheme or port, e.g. "watcher.example.org"',
                )
                continue
            hosts.append(host.strip().lower().rstrip("."))
        return ServeConfig(
            host=self.typed(s, "serve.", "host", str, d.host),
            port=port,
            password=password,
            allow_sql=allow_sql,
            allowed_hosts=tuple(hosts),
        )

    def feeds(self, raw: dict, default_interval: float) -> tuple[FeedConfig, ...]:
        items = raw.get("feeds", [])
        if not isinstance(items, list):
            self.fail("feeds", "must be an array of tables: write each feed as [[feeds]]")
            return ()
        feeds, seen = [], set()
        for i, f in enumerate(items):
            key = f"feeds[{i}]"
            if not isinstance(f, dict):
                self.fail(key, "must be a table with url and name")
                continue
            for unknown in sorted(set(f) - {"url", "name", "interval", "fetch_article"}):
                self.fail(
                    f"{key}.{unknown}", "unknown key; allowed keys are: fetch_article, interval, name, url"
                )
            url = self.typed(f, f"{key}.", "url", str, "")
            if not re.match(r"^https?://[^\s/]+", url):
                self.fail(f"{key}.url", f"must be an http:// or https:// URL, got {url!r}")
            if url in seen:
                self.fail(f"{key}.url", f"{url} is listed twice")
            seen.add(url)
            name = self.typed(f, f"{key}.", "name", str, "") or url
            feeds.append(
                FeedConfig(
                    url=url,
                    name=name,
                    interval=self.duration(f, f"{key}.", "interval", default_interval),
                    fetch_article=self.typed(f, f"{key}.", "fetch_article", bool, True),
                )
            )
        return tuple(feeds)

    def channels(self, raw: dict, proxy: str | None = None) -> tuple[ChannelConfig, ...]:
        items = raw.get("channels", [])
        if not isinstance(items, list):
            self.fail("channels", "must be an array of tables: write each channel as [[channels]]")
            return ()
        allowed = {"name", "url", "url_env", "rules", "severity", "mode", "digest_every", "format"}
        channels, names = [], set()
        for i, c in enumerate(items):
            key = f"channels[{i}]"
            if not isinstance(c, dict):
                self.fail(key, "must be a table with name and url or url_env")
                continue
            for unknown in sorted(set(c) - allowed):
                self.fail(f"{key}.{unknown}", f"unknown key; allowed keys are: {', '.join(sorted(allowed))}")
            name = self.typed(c, f"{key}.", "name", str, "")
            if not name:
                self.fail(f"{key}.name", "every channel needs a name")
            elif name in names:
                self.fail(f"{key}.name", f"channel name {name!r} is used twice")
            names.add(name)
            url, source = self._channel_url(c, key)
            rules = self.typed(c, f"{key}.", "rules", (list, str), ["*"])
            rules = [rules] if isinstance(rules, str) else rules
            if not all(isinstance(r, str) for r in rules):
                self.fail(f"{key}.rules", 'must be a list of rule ids, or "*" for all rules')
                rules = ["*"]
            severity = self._choice(c, key, "severity", SEVERITIES, None)
            mode = self._choice(c, key, "mode", CHANNEL_MODES, "immediate")
            digest_every = self.typed(c, f"{key}.", "digest_every", str, "1h")
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", digest_every):
                try:
                    period = parse_duration(digest_every)
                except DurationError:
                    self.fail(
                        f"{key}.digest_every",
                        f'must be a period such as "1h" or a daily time such as "08:00", got {digest_every!r}',
                    )
                else:
                    if not 0 < period <= MAX_PERIOD:
                        self.fail(
                            f"{key}.digest_every",
                            f"must be longer than zero and at most {_shown(MAX_PERIOD)}",
                        )
                        digest_every = "1h"
            channels.append(
                ChannelConfig(
                    name=name,
                    url=url,
                    source=source,
                    rules=tuple(rules),
                    severity=severity,
                    mode=mode,
                    digest_every=digest_every,
                    format=self._choice(c, key, "format", CHANNEL_FORMATS, "text"),
                    proxy=proxy,
                )
            )
        return tuple(channels)

    def _channel_url(self, c: dict, key: str) -> tuple[str, str]:
        if ("url" in c) == ("url_env" in c):
            self.fail(
                key,
                "give exactly one of url (an apprise URL) or url_env (the name of an "
                "environment variable holding one)",
            )
            return "", ""
        if "url" in c:
            if not isinstance(c["url"], str):  # never echo it: it may hold tokens
                self.fail(
                    f"{key}.url",
                    'must be one apprise URL in quotes, e.g. url = "json://host/path" '
                    "(the value given is not shown: it may hold secrets)",
                )
                return "", "url"
            self.secrets.append(f"{key}.url")
            return c["url"], "url"
        env = self.typed(c, f"{key}.", "url_env", str, "")
        value = self.environ.get(env, "")
        if not value:
            self.fail(f"{key}.url_env", f"environment variable {env} is not set or empty")
        return value, f"url_env:{env}"

    def _choice(self, c: dict, key: str, name: str, choices: tuple, default):
        value = self.typed(c, f"{key}.", name, str, default)
        if value is not None and value not in choices:
            self.fail(f"{key}.{name}", f"must be one of {', '.join(choices)}, got {value!r}")
            return default
        return value


def _shown(seconds: float) -> str:
    return f"{seconds / DAY:g} days" if seconds >= DAY else f"{seconds / 3600:g} h"
