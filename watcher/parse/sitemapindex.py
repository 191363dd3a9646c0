"""Walking a sitemap index: its children loaded breadth first, each once,
within depth and count bounds, their URLs merged newest first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from watcher.errors import FeedError
from watcher.parse.entry import MAX_ENTRIES, FeedEntry, ParsedFeed

if TYPE_CHECKING:
    from watcher.parse.sitemap import Sitemap

MAX_DEPTH = 2  # index -> index -> urlset
MAX_SITEMAPS = 25  # sitemaps loaded per walk, the first one included


@dataclass(frozen=True)
class SitemapWalk:
    feed: ParsedFeed  # every URL found, each once, newest first
    loaded: tuple[str, ...]  # sitemaps loaded, in order
    problems: tuple[str, ...]  # one line per sitemap that failed or was left out


_OLDEST = datetime.min.replace(tzinfo=UTC)


def walk_sitemaps(
    url: str,
    load: Callable[[str], Sitemap],
    *,
    errors: tuple[type[Exception], ...] = (FeedError,),
    max_depth: int = MAX_DEPTH,
    max_sitemaps: int = MAX_SITEMAPS,
) -> SitemapWalk:
    """Load ``url`` and, if it is an index, its children: breadth first, each once
    (loop detection on the URL without fragment, scheme and host case-folded), at
    most ``max_depth`` levels below the first and ``max_sitemaps`` loads in all.

    ``load(url)`` fetches through the guarded client (the source's headers, size
    cap, per-host limit) and returns :func:`parse_sitemap` of the body; it raises
    one of ``errors`` (FeedError, and the client's FetchError) for a sitemap that
    fails. A failing first sitemap is the source's error (FeedError); a failing
    child is a problem noted in the result, and the others still count."""
    queue: list[tuple[str, int]] = [(url, 0)]
    seen = {_key(url)}
    loaded: list[str] = []
    problems: list[str] = []
    entries: dict[str, FeedEntry] = {}
    languages: set[str | None] = set()
    left_out = 0
    while queue:
        current, depth = queue.pop(0)
        if len(loaded) >= max_sitemaps:
            left_out += 1
            continue
        loaded.append(current)
        try:
            sitemap = load(current)
        except errors as exc:
            if current == url:
                raise FeedError(str(exc)) from None
            problems.append(f"{current}: {exc}")
            continue
        if sitemap.feed.warning:
            problems.append(f"{current}: {sitemap.feed.warning}")
        for entry in sitemap.feed.entries:
            entries.setdefault(entry.guid, entry)
        languages.add(sitemap.feed.language)
        for child in sitemap.sitemaps:
            key = _key(child)
            if key in seen:
                problems.append(f"{current}: lists {child} again (a loop); not loaded twice")
                continue
            seen.add(key)
            if depth + 1 > max_depth:
                problems.append(f"{current}: {child} is nested deeper than {max_depth} levels; not loaded")
                continue
            queue.append((child, depth + 1))
    if left_out:
        problems.append(f"{left_out} more sitemaps were not loaded: at most {max_sitemaps} per poll")
    ordered = sorted(entries.values(), key=lambda e: e.published or _OLDEST, reverse=True)
    language = next(iter(languages)) if len(languages) == 1 else None
    return SitemapWalk(
        feed=ParsedFeed(
            title=None,
            language=language,
            entries=tuple(ordered[:MAX_ENTRIES]),
            warning="; ".join(problems[:5]) or None,
        ),
        loaded=tuple(loaded),
        problems=tuple(problems),
    )


def _key(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
        return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))
    except ValueError:
        return url
