"""``[[feeds]]``: the sources polled, each with its own interval and settings.

A source has a ``kind``: ``feed`` (RSS, Atom, RDF, JSON Feed; the default),
``telegram`` (a public channel's web preview), ``sitemap`` (an XML sitemap,
sitemap index or Google News sitemap) or ``page`` (an index page whose
article links are picked by ``selector`` and/or ``link_pattern``). Keys that
belong to another kind are refused with the kind they belong to. Every
source may carry ``headers`` (values in the file, or named environment
variables in ``headers_env``; secrets: never shown), ``user_agent``,
``enabled = false`` (paused: not polled, history kept) and ``tags``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from watcher.config.alerts import MAX_AGE_LIMIT
from watcher.config.reader import Reader, Table

KINDS = ("feed", "telegram", "sitemap", "page")
TELEGRAM = "https://t.me"


@dataclass(frozen=True)
class FeedConfig:
    url: str  # what is fetched first, and the source's identity (a Telegram channel: its preview page)
    name: str
    interval: float  # seconds between polls
    fetch_article: bool = True
    max_age: float | None = None  # overrides [alerts] max_age for this feed
    kind: str = "feed"  # one of KINDS
    channel: str | None = None  # telegram: the channel's name
    selector: str | None = None  # page: CSS selector of the article links (or their containers)
    link_pattern: str | None = None  # page: regular expression searched in each absolute link
    max_pages: int = 5  # telegram: preview pages read back on the first poll
    max_sitemaps: int = 25  # sitemap: sitemaps loaded per poll (an index's children included)
    max_entries: int = 100  # sitemap, page: the newest this many URLs are looked at per poll
    follow_links: bool = False  # telegram: links inside posts are fetched as articles too
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # may hold secrets
    user_agent: str | None = None  # instead of [watcher] user_agent
    enabled: bool = True  # false: paused (not polled; its history stays)
    tags: tuple[str, ...] = ()

    @property
    def preview_base(self) -> str:
        """telegram: where the preview pages are (``https://t.me``, or a mirror's root)."""
        return self.url[: self.url.rfind("/s/")] if "/s/" in self.url else TELEGRAM


COMMON_KEYS = {
    "url",
    "name",
    "interval",
    "fetch_article",
    "max_age",
    "kind",
    "headers",
    "headers_env",
    "user_agent",
    "enabled",
    "tags",
}
KIND_KEYS = {
    "feed": set(),
    "telegram": {"channel", "max_pages", "follow_links"},
    "sitemap": {"max_sitemaps", "max_entries"},
    "page": {"selector", "link_pattern", "max_entries"},
}
KEYS = COMMON_KEYS | set().union(*KIND_KEYS.values())

_CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
_RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "accept-encoding"}
_TAG = re.compile(r"^[^\s,/][^,/]{0,99}$")


def read_feeds(r: Reader, raw: Table, default_interval: float) -> tuple[FeedConfig, ...]:
    items = raw.get("feeds", [])
    if not isinstance(items, list):
        r.fail("feeds", "must be an array of tables: write each feed as [[feeds]]")
        return ()
    feeds: list[FeedConfig] = []
    seen: set[str] = set()
    for i, f in enumerate(items):
        key = f"feeds[{i}]"
        if not isinstance(f, dict):
            r.fail(key, "must be a table with url and name")
            continue
        r.unknown_keys(f, key, KEYS)
        kind = r.choice(f, f"{key}.", "kind", KINDS, "feed")
        for other in sorted(set(f) & (KEYS - COMMON_KEYS - KIND_KEYS[kind])):
            owners = " or ".join(f'"{k}"' for k in KINDS if other in KIND_KEYS[k])
            r.fail(f"{key}.{other}", f'only a source of kind = {owners} takes {other} (this one is "{kind}")')
        channel = None
        if kind == "telegram":
            url, channel = _telegram(r, f, key)
        else:
            url = r.typed(f, f"{key}.", "url", str, "")
            if not re.match(r"^https?://[^\s/]+", url):
                r.fail(f"{key}.url", f"must be an http:// or https:// URL, got {url!r}")
        if url and url in seen:
            r.fail(f"{key}.url", f"{url} is listed twice")
        seen.add(url)
        if kind == "page" and "selector" not in f and "link_pattern" not in f:
            r.fail(
                key,
                'a source of kind = "page" needs selector (CSS, e.g. "article h2 a") or link_pattern '
                '(a regular expression, e.g. "/statements/[0-9]+") to pick its article links',
            )
        name = r.typed(f, f"{key}.", "name", str, "") or (f"@{channel}" if channel else url)
        feeds.append(
            FeedConfig(
                url=url,
                name=name,
                interval=r.duration(f, f"{key}.", "interval", default_interval),
                # A Telegram post is the article: there is no page to extract
                # (follow_links fetches the links inside posts instead).
                fetch_article=_fetch_article(r, f, key, kind),
                max_age=r.duration(f, f"{key}.", "max_age", 0.0, MAX_AGE_LIMIT) if "max_age" in f else None,
                kind=kind,
                channel=channel,
                selector=_nonempty(r, f, key, "selector"),
                link_pattern=_nonempty(r, f, key, "link_pattern"),
                max_pages=r.positive_int(f, f"{key}.", "max_pages", 5, 50),
                max_sitemaps=r.positive_int(f, f"{key}.", "max_sitemaps", 25, 1000),
                max_entries=r.positive_int(f, f"{key}.", "max_entries", 100, 500),
                follow_links=r.typed(f, f"{key}.", "follow_links", bool, False),
                headers=_headers(r, f, key),
                user_agent=_user_agent(r, f, key),
                enabled=r.typed(f, f"{key}.", "enabled", bool, True),
                tags=_tags(r, f, key),
            )
        )
    return tuple(feeds)


def channel_name(value: str) -> str | None:
    """``name``, ``@name``, ``t.me/name``, ``https://t.me/s/name`` -> ``name``; None if it is none."""
    text = value.strip()
    if re.match(r"^(https?://)?(www\.)?(t\.me|telegram\.me)/", text, re.IGNORECASE):
        path = urlsplit(text if "://" in text else "https://" + text).path.strip("/").split("/")
        if path and path[0] == "s":
            path = path[1:]
        text = path[0] if path else ""
    text = text.removeprefix("@")
    return text if _CHANNEL.match(text) else None


def _telegram(r: Reader, f: Table, key: str) -> tuple[str, str | None]:
    """The preview URL and the channel's name of a ``kind = "telegram"`` source.

    ``channel`` is a name, @name or t.me link; ``url`` may be given instead (a
    t.me link), or besides it: the preview page of a mirror, ending in /s/<name>."""
    given = r.typed(f, f"{key}.", "channel", str, "")
    url = r.typed(f, f"{key}.", "url", str, "")
    if not given and not url:
        r.fail(key, 'a source of kind = "telegram" needs channel = "name" (or "https://t.me/name")')
        return "", None
    name = channel_name(given or url)
    if name is None:
        which = "channel" if given else "url"
        r.fail(
            f"{key}.{which}",
            f"not a public Telegram channel: {given or url!r}; write the channel's name (5-32 letters, "
            'digits or _, starting with a letter) or its link, e.g. channel = "durov" or "https://t.me/durov"',
        )
        return "", None
    if url and channel_name(url) is None:  # a mirror of the preview, e.g. a test server
        if not re.match(r"^https?://[^\s/]+", url) or not url.rstrip("/").endswith(f"/s/{name}"):
            r.fail(
                f"{key}.url",
                f"with channel = {given!r}, url is the preview page of a mirror and must end "
                f"in /s/{name}, e.g. https://mirror.example/s/{name}; leave url out for t.me",
            )
            return "", name
        return url.rstrip("/"), name
    return f"{TELEGRAM}/s/{name}", name


def _fetch_article(r: Reader, f: Table, key: str, kind: str) -> bool:
    """A Telegram post is the article (there is no page to extract); with
    follow_links, the links inside posts are fetched as articles instead."""
    if kind != "telegram":
        return bool(r.typed(f, f"{key}.", "fetch_article", bool, True))
    if "fetch_article" in f:
        r.fail(
            f"{key}.fetch_article",
            "a Telegram post is the article itself; to fetch the links inside posts, write follow_links = true",
        )
    return bool(r.typed(f, f"{key}.", "follow_links", bool, False))


def _nonempty(r: Reader, f: Table, key: str, name: str) -> str | None:
    value = r.typed(f, f"{key}.", name, str, None)
    if value is not None and not value.strip():
        r.fail(f"{key}.{name}", "is empty; leave it out or give a value")
        return None
    return value


def _headers(r: Reader, f: Table, key: str) -> tuple[tuple[str, str], ...]:
    """``headers = { Cookie = "..." }`` and ``headers_env = { Authorization = "ENV_NAME" }``.
    Values are secrets: never shown in a problem."""
    found: dict[str, str] = {}
    for table_key, from_env in (("headers", False), ("headers_env", True)):
        table = r.typed(f, f"{key}.", table_key, dict, {})
        for name, value in table.items():
            where = f"{key}.{table_key}.{name}"
            if not _HEADER_NAME.match(name):
                r.fail(where, "is not an HTTP header name (letters, digits and - only)")
                continue
            if name.lower() in _RESERVED_HEADERS:
                r.fail(where, f"{name} is set by the watcher itself and cannot be configured")
                continue
            if name.lower() in {n.lower() for n in found}:
                r.fail(where, f"{name} is given twice (headers and headers_env)")
                continue
            if not isinstance(value, str):
                what = "the name of an environment variable" if from_env else "a string in quotes"
                r.fail(where, f"must be {what} (the value given is not shown: it may be a secret)")
                continue
            if from_env:
                env, value = value, r.environ.get(value, "")
                if not value:
                    r.fail(where, f"environment variable {env} is not set or empty")
                    continue
            elif name.lower() != "user-agent":
                r.secrets.append(f"{key}.headers")
            if any(c in value for c in "\r\n\0"):
                r.fail(where, "holds a line break or NUL, which would split the request (value not shown)")
                continue
            found[name] = value
    return tuple(found.items())


def _user_agent(r: Reader, f: Table, key: str) -> str | None:
    value = _nonempty(r, f, key, "user_agent")
    if value is not None and any(c in value for c in "\r\n\0"):
        r.fail(f"{key}.user_agent", "holds a line break or NUL; write it on one line")
        return None
    return value


def _tags(r: Reader, f: Table, key: str) -> tuple[str, ...]:
    tags = r.typed(f, f"{key}.", "tags", list, [])
    out: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not _TAG.match(tag.strip()):
            r.fail(
                f"{key}.tags",
                f'must be a list of short names without commas or slashes, e.g. ["syria", "official"]; got {tag!r}',
            )
            continue
        if tag.strip() not in out:
            out.append(tag.strip())
    return tuple(out)
