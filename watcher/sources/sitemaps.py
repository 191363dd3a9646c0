"""Walking a sitemap index: child sitemaps fetched through the caller's guarded GET.

``walk_sitemaps(url, get)`` fetches ``url``; an index's children are fetched
breadth first, each at most once (loop detection on the URL without its
fragment, scheme and host case-folded), to at most ``max_depth`` levels below
the first and ``max_sitemaps`` fetches in all. A child that fails (an HTTP
error, a body over the caller's size cap, not a sitemap, gzip that is not)
is a problem noted in the result; the others still count. A gzip body
(``sitemap.xml.gz`` served as a file, not as a Content-Encoding) is inflated
with the same bounded decoder the client uses. Entries of all sitemaps come
together, each URL once, newest first, at most ``MAX_ENTRIES``.

``get(url)`` is the guarded client's GET with the source's settings (headers,
size cap, per-host limit); it returns a ``watcher.fetch.client.Response`` or
raises ``watcher.fetch.client.FetchError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from watcher.fetch.client import FetchError, Response
from watcher.fetch.decompression import CorruptBody, Decoder, TooLarge
from watcher.parse.feed import MAX_ENTRIES, FeedEntry, FeedError, ParsedFeed
from watcher.parse.sitemap import parse_sitemap

MAX_DEPTH = 2  # index -> index -> urlset
MAX_SITEMAPS = 25  # fetches per walk, the first one included
MAX_INFLATED = (
    50 * 1024 * 1024
)  # bytes of one gzip sitemap, inflated (the protocol's own limit)
_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SitemapWalk:
    feed: ParsedFeed  # every URL found, newest first
    fetched: tuple[str, ...]  # sitemaps fetched, in order
    problems: tuple[str, ...]  # one line per sitemap that failed or was left out


def walk_sitemaps(
    url: str,
    get: Callable[[str], Response],
    *,
    max_depth: int = MAX_DEPTH,
    max_sitemaps: int = MAX_SITEMAPS,
) -> SitemapWalk:
    """Fetch ``url`` and, if it is an index, its children (bounded, loop-safe)."""
    queue: list[tuple[str, int]] = [(url, 0)]
    seen = {_key(url)}
    fetched: list[str] = []
    problems: list[str] = []
    entries: dict[str, FeedEntry] = {}
    languages: set[str | None] = set()
    left_out = 0
    while queue:
        current, depth = queue.pop(0)
        if len(fetched) >= max_sitemaps:
            left_out += 1
            continue
        fetched.append(current)
        try:
            sitemap = _fetch(current, get)
        except (FetchError, FeedError) as exc:
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
                problems.append(
                    f"{current}: lists {child} again (a loop); not fetched twice"
                )
                continue
            seen.add(key)
            if depth + 1 > max_depth:
                problems.append(
                    f"{current}: {child} is nested deeper than {max_depth} levels; not fetched"
                )
                continue
            queue.append((child, depth + 1))
    if left_out:
        problems.append(
            f"{left_out} more sitemaps were not fetched: at most {max_sitemaps} per poll"
        )
    ordered = sorted(
        entries.values(), key=lambda e: e.published or _OLDEST, reverse=True
    )
    language = next(iter(languages)) if len(languages) == 1 else None
    return SitemapWalk(
        feed=ParsedFeed(
            title=None,
            language=language,
            entries=tuple(ordered[:MAX_ENTRIES]),
            warning="; ".join(problems[:5]) or None,
        ),
        fetched=tuple(fetched),
        problems=tuple(problems),
    )


def _fetch(url: str, get: Callable[[str], Response]):
    response = get(url)
    if response.status != 200:
        raise FeedError(f"HTTP {response.status}")
    body = response.body
    if body[:2] == b"\x1f\x8b":
        decoder = Decoder("gzip", MAX_INFLATED)
        try:
            body = decoder.feed(body) + decoder.finish()
        except TooLarge:
            raise FeedError(
                f"the gzip sitemap inflates to more than {MAX_INFLATED // (1024 * 1024)} MB"
            ) from None
        except CorruptBody as exc:
            raise FeedError(f"not a sitemap: {exc}") from None
    return parse_sitemap(body, url=response.url, content_type=response.content_type)


def _key(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
        return urlunsplit(
            (
                parts.scheme.lower(),
                parts.netloc.lower(),
                parts.path or "/",
                parts.query,
                "",
            )
        )
    except ValueError:
        return url
