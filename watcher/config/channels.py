"""``[[channels]]``: where alerts go (apprise URLs), which rules and how."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from watcher.config.reader import MAX_PERIOD, Reader, Table, shown
from watcher.config.severity import SEVERITIES
from watcher.duration import DurationError, parse_duration

CHANNEL_MODES = ("immediate", "digest")
CHANNEL_FORMATS = ("text", "markdown", "html", "json")  # json: a structured webhook (not apprise)
WEBHOOK_SCHEMES = {"http": "http", "https": "https", "json": "http", "jsons": "https"}
KEYS = {
    "name",
    "url",
    "url_env",
    "rules",
    "severity",
    "mode",
    "digest_every",
    "format",
    "ops",
    "quiet_hours",
    "timezone",
    "max_per_hour",
    "feed_tags",
}


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
    feed_tags: tuple[str, ...] = ()  # only alerts of articles from feeds with one of these tags (empty: all)
    ops: bool = False  # receives operator notices (and article alerts only if `rules` is given)
    quiet_hours: tuple[str, str] | None = None  # ("22:00", "07:00") in `timezone`: alerts wait
    timezone: str = "UTC"  # an IANA zone name, for quiet_hours
    max_per_hour: int | None = None  # messages per hour; the overflow goes out as one digest


def read_channels(r: Reader, raw: Table, proxy: str | None = None) -> tuple[ChannelConfig, ...]:
    items = raw.get("channels", [])
    if not isinstance(items, list):
        r.fail("channels", "must be an array of tables: write each channel as [[channels]]")
        return ()
    channels: list[ChannelConfig] = []
    names: set[str] = set()
    for i, c in enumerate(items):
        key = f"channels[{i}]"
        if not isinstance(c, dict):
            r.fail(key, "must be a table with name and url or url_env")
            continue
        r.unknown_keys(c, key, KEYS)
        name = r.typed(c, f"{key}.", "name", str, "")
        if not name:
            r.fail(f"{key}.name", "every channel needs a name")
        elif name in names:
            r.fail(f"{key}.name", f"channel name {name!r} is used twice")
        names.add(name)
        url, source = _url(r, c, key)
        ops = r.typed(c, f"{key}.", "ops", bool, False)
        # An ops channel gets operator notices; article alerts only if its rules say so.
        rules = r.typed(c, f"{key}.", "rules", (list, str), [] if ops else ["*"])
        rules = [rules] if isinstance(rules, str) else rules
        if not all(isinstance(rule, str) for rule in rules):
            r.fail(f"{key}.rules", 'must be a list of rule ids, or "*" for all rules')
            rules = ["*"]
        mode = r.choice(c, f"{key}.", "mode", CHANNEL_MODES, "immediate")
        fmt = r.choice(c, f"{key}.", "format", CHANNEL_FORMATS, "text")
        if fmt == "json":
            _webhook(r, key, url, mode, c)
        quiet = _quiet_hours(r, c, key)
        channels.append(
            ChannelConfig(
                name=name,
                url=url,
                source=source,
                rules=tuple(rules),
                severity=r.choice(c, f"{key}.", "severity", SEVERITIES, None),
                mode=mode,
                digest_every=_digest_every(r, c, key),
                format=fmt,
                proxy=proxy,
                feed_tags=_feed_tags(r, c, key),
                ops=ops,
                quiet_hours=quiet,
                timezone=_timezone(r, c, key, quiet is not None or "quiet_hours" in c),
                max_per_hour=(
                    r.positive_int(c, f"{key}.", "max_per_hour", 1, 3600) if "max_per_hour" in c else None
                ),
            )
        )
    return tuple(channels)


def _feed_tags(r: Reader, c: Table, key: str) -> tuple[str, ...]:
    tags = r.typed(c, f"{key}.", "feed_tags", list, [])
    if not all(isinstance(t, str) and t.strip() for t in tags):
        r.fail(f"{key}.feed_tags", 'must be a list of feed tags, e.g. ["syria"] (see tags in [[feeds]])')
        return ()
    return tuple(t.strip() for t in tags)


def _webhook(r: Reader, key: str, url: str, mode: str, c: Table) -> None:
    """format = "json": the watcher POSTs its own JSON payload to the URL itself."""
    if url and url.partition("://")[0].lower() not in WEBHOOK_SCHEMES:
        r.fail(
            f"{key}.format",
            'format = "json" posts a structured alert to a web address: the URL must start with '
            "https:// or http:// (or json:// / jsons://); the value is not shown: it may hold secrets",
        )
    if mode == "digest":
        r.fail(f"{key}.mode", 'format = "json" sends one alert per POST: use mode = "immediate"')
    for calm in ("quiet_hours", "max_per_hour"):
        if calm in c:
            r.fail(
                f"{key}.{calm}",
                f'format = "json" sends one alert per POST, and {calm} folds alerts into one '
                "digest message: leave it out (the receiving program can pace itself)",
            )


def _quiet_hours(r: Reader, c: Table, key: str) -> tuple[str, str] | None:
    """Two different times of day, "22:00-07:00" (the span may cross midnight)."""
    if "quiet_hours" not in c:
        return None
    value = c["quiet_hours"]
    found = None
    if isinstance(value, str):
        found = re.fullmatch(
            r"\s*(([01]?\d|2[0-3]):[0-5]\d)\s*[-\u2013]\s*(([01]?\d|2[0-3]):[0-5]\d)\s*", value
        )
    if not found or _minutes(found[1]) == _minutes(found[3]):
        r.fail(
            f"{key}.quiet_hours",
            'must be two different times of day in quotes as "start-end" (24-hour clock, in the '
            f'channel\'s timezone), e.g. quiet_hours = "22:00-07:00"; got {_shown(value)}',
        )
        return None
    return _padded(found[1]), _padded(found[3])


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _padded(hhmm: str) -> str:
    return hhmm if len(hhmm) == 5 else "0" + hhmm


def _shown(value: object, longest: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= longest else text[: longest - 3] + "..."


def _timezone(r: Reader, c: Table, key: str, quiet: bool) -> str:
    """An IANA time zone name this system knows (for quiet_hours, the only thing it is for)."""
    if "timezone" not in c:
        return "UTC"
    name = c["timezone"]
    if not isinstance(name, str) or not _known_zone(name):
        guesses = _zones_like(name) if isinstance(name, str) else []
        r.fail(
            f"{key}.timezone",
            f"{_shown(name)} is not a time zone this system knows; use an IANA name such as "
            + " or ".join(f'"{z}"' for z in (guesses or ["Europe/Istanbul", "UTC"])),
        )
        return "UTC"
    if not quiet:
        r.fail(
            f"{key}.timezone",
            "is only used by quiet_hours, which this channel does not set: add quiet_hours or "
            'remove timezone (digest_every = "HH:MM" is a UTC time)',
        )
    return name


def _known_zone(name: str) -> bool:
    import zoneinfo  # only a config with quiet hours in a time zone pays for it

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # unknown, not a key, a folder
        return False
    return True


def _zones_like(name: str) -> list[str]:
    """The IANA zones ``name`` probably means ("istanbul" -> "Asia/Istanbul", "Europe/Istanbul")."""
    wanted = name.strip().replace(" ", "_").casefold()
    if not wanted or len(wanted) > 64:
        return []
    import zoneinfo

    try:
        zones = zoneinfo.available_timezones()
    except OSError:
        return []
    found = sorted(z for z in zones if z.casefold() == wanted or z.casefold().endswith("/" + wanted))
    return found if len(found) <= 3 else []


def _digest_every(r: Reader, c: Table, key: str) -> str:
    """A period ("1h") or a daily time ("08:00")."""
    digest_every: str = r.typed(c, f"{key}.", "digest_every", str, "1h")
    if re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", digest_every):
        return digest_every
    try:
        period = parse_duration(digest_every)
    except DurationError:
        r.fail(
            f"{key}.digest_every",
            f'must be a period such as "1h" or a daily time such as "08:00", got {digest_every!r}',
        )
        return digest_every
    if not 0 < period <= MAX_PERIOD:
        r.fail(f"{key}.digest_every", f"must be longer than zero and at most {shown(MAX_PERIOD)}")
        return "1h"
    return digest_every


def _url(r: Reader, c: Table, key: str) -> tuple[str, str]:
    """The apprise URL and where it came from ('url' or 'url_env:NAME')."""
    if ("url" in c) == ("url_env" in c):
        r.fail(
            key,
            "give exactly one of url (an apprise URL) or url_env (the name of an "
            "environment variable holding one)",
        )
        return "", ""
    if "url" in c:
        if not isinstance(c["url"], str):  # never echo it: it may hold tokens
            r.fail(
                f"{key}.url",
                'must be one apprise URL in quotes, e.g. url = "json://host/path" '
                "(the value given is not shown: it may hold secrets)",
            )
            return "", "url"
        r.secrets.append(f"{key}.url")
        return c["url"], "url"
    env = r.typed(c, f"{key}.", "url_env", str, "")
    value = r.environ.get(env, "")
    if not value:
        r.fail(f"{key}.url_env", f"environment variable {env} is not set or empty")
    return value, f"url_env:{env}"
