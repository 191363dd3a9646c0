"""Finding the sources at an address (``watcher feeds add URL``).

The address is fetched through the guarded client. A feed or a sitemap is
itself the source; a Telegram link is a channel; an HTML page is searched
for the feeds it names (``<link rel="alternate">``), then links that look
like feeds, then the site's common feed paths and the sitemaps its
``/robots.txt`` lists. Every candidate is fetched and kept only when it
reads as what it claims to be, so what is listed can be polled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from watcher.config.feeds import channel_name
from watcher.errors import FeedError
from watcher.fetch.client import Client, FetchError
from watcher.fetch.response import Response
from watcher.parse import discovery
from watcher.parse.feed import parse_feed
from watcher.parse.sitemap import parse_sitemap
from watcher.pipeline.reading import FEED_ACCEPT, HTML_ACCEPT, SITEMAP_ACCEPT

MAX_TRIED = 16  # candidate addresses fetched at most


@dataclass(frozen=True)
class Found:
    url: str
    kind: str  # "feed" | "sitemap" | "telegram"
    title: str
    how: str  # how it was found, for the listing
    entries: int = 0  # what it holds now
    channel: str | None = None


@dataclass(frozen=True)
class Search:
    found: tuple[Found, ...]
    notes: tuple[str, ...]  # what was tried and failed, one line each


def find_sources(client: Client, url: str, *, max_bytes: int) -> Search:
    """The sources at ``url``, best first. FetchError when ``url`` itself cannot be fetched."""
    channel = channel_name(url) if "t.me/" in url or "telegram.me/" in url or url.startswith("@") else None
    if channel:
        return Search(
            (
                Found(
                    f"https://t.me/s/{channel}",
                    "telegram",
                    f"@{channel}",
                    "a Telegram channel",
                    channel=channel,
                ),
            ),
            (),
        )
    get = _getter(client, max_bytes)
    first = get(url, FEED_ACCEPT)
    if first.status != 200:
        raise FetchError("http", url, f"HTTP {first.status} from {first.url}")
    itself = _as_source(first, "the address itself")
    if itself is not None:
        return Search((itself,), ())
    found: list[Found] = []
    notes: list[str] = []
    tried = {first.url, url}
    page = discovery.discover(first.body, url=first.url, content_type=first.content_type)

    def attempt(candidate: str, how: str, accept: str) -> None:
        if candidate in tried or len(tried) >= MAX_TRIED or any(f.url == candidate for f in found):
            return
        tried.add(candidate)
        try:
            answer = get(candidate, accept)
        except FetchError as exc:
            notes.append(f"{candidate}: {exc}")
            return
        if answer.status != 200:
            notes.append(f"{candidate}: HTTP {answer.status}")
            return
        source = _as_source(answer, how)
        if source is not None:
            found.append(source)
        else:
            notes.append(f"{candidate}: neither a feed nor a sitemap")

    for link in page.feeds:
        attempt(link.url, 'named by the page (<link rel="alternate">)', FEED_ACCEPT)
    for link in page.candidates:
        attempt(link.url, "linked from the page", FEED_ACCEPT)
    if not found:
        for candidate in discovery.common_paths(first.url):
            attempt(candidate, "a common feed address", FEED_ACCEPT)
            if found:
                break
    try:
        robots = get(discovery.robots_url(first.url), "text/plain, */*;q=0.5")
        sitemaps = discovery.robots_sitemaps(robots.body, url=robots.url) if robots.status == 200 else ()
    except FetchError:
        sitemaps = ()
    for candidate in sitemaps:
        attempt(candidate, "listed in robots.txt (Sitemap:)", SITEMAP_ACCEPT)
    return Search(tuple(found), tuple(notes))


def _getter(client: Client, max_bytes: int) -> Callable[[str, str], Response]:
    def get(url: str, accept: str) -> Response:
        return client.get(url, max_bytes=max_bytes, accept=accept)

    return get


def _as_source(answer: Response, how: str) -> Found | None:
    """The answer as a feed or a sitemap, if it reads as one."""
    try:
        parsed = parse_feed(answer.body, url=answer.url, content_type=answer.content_type)
        if parsed.entries or not _looks_html(answer):
            return Found(answer.url, "feed", parsed.title or "", how, len(parsed.entries))
    except FeedError:
        pass
    if _looks_html(answer):
        return None
    try:
        sitemap = parse_sitemap(answer.body, url=answer.url, content_type=answer.content_type)
    except FeedError:
        return None
    count = len(sitemap.sitemaps) if sitemap.is_index else len(sitemap.feed.entries)
    what = "sitemap index" if sitemap.is_index else "sitemap"
    return Found(answer.url, "sitemap", what, how, count)


def _looks_html(answer: Response) -> bool:
    head = answer.body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or "html" in (answer.content_type or "").lower()


__all__ = ["HTML_ACCEPT", "Found", "Search", "find_sources"]
