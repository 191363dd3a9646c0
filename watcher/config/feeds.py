"""``[[feeds]]``: the feeds polled, each with its own interval."""

from __future__ import annotations

import re
from dataclasses import dataclass

from watcher.config.alerts import MAX_AGE_LIMIT
from watcher.config.reader import Reader, Table


@dataclass(frozen=True)
class FeedConfig:
    url: str
    name: str
    interval: float  # seconds between polls
    fetch_article: bool = True
    max_age: float | None = None  # overrides [alerts] max_age for this feed


KEYS = {"url", "name", "interval", "fetch_article", "max_age"}


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
        url = r.typed(f, f"{key}.", "url", str, "")
        if not re.match(r"^https?://[^\s/]+", url):
            r.fail(f"{key}.url", f"must be an http:// or https:// URL, got {url!r}")
        if url in seen:
            r.fail(f"{key}.url", f"{url} is listed twice")
        seen.add(url)
        name = r.typed(f, f"{key}.", "name", str, "") or url
        feeds.append(
            FeedConfig(
                url=url,
                name=name,
                interval=r.duration(f, f"{key}.", "interval", default_interval),
                fetch_article=r.typed(f, f"{key}.", "fetch_article", bool, True),
                max_age=r.duration(f, f"{key}.", "max_age", 0.0, MAX_AGE_LIMIT) if "max_age" in f else None,
            )
        )
    return tuple(feeds)
