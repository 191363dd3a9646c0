"""Reading one source, by its kind, into the entries the feed parser produces.

The poll fetches the source's first document (``feed.url``) itself, with its
validators, and hands the answer here; every further request (older pages of
a Telegram channel, the children of a sitemap index, a wrapped link's
target) goes through the same guarded client, within the poll's deadline,
with the source's own headers:

* ``feed``: RSS, Atom, RDF or JSON Feed (``parse.feed``); an HTML page that
  names its feeds says which ones in the error;
* ``telegram``: the channel's public web preview (``parse.telegram``), paged
  back with ``?before=`` up to ``max_pages`` pages on the first poll (later
  polls stop at the newest post already stored). A post is the article (no
  page to extract); with ``follow_links``, the links inside posts become
  entries of their own and are fetched as articles;
* ``sitemap``: a sitemap, a sitemap index (its children loaded breadth first,
  each once, at most ``max_sitemaps``, each capped at ``max_feed_bytes``) or
  a Google News sitemap (``parse.sitemap``), newest first;
* ``page``: an index page whose article links (``selector``, ``link_pattern``)
  are the entries (``parse.links``).

Wrapped links (Google News, Google Alerts, ``google.com/url``, Bing,
FeedBurner) are unwrapped to the publisher's URL before dedup and fetching
(``dedup.unwrap``); a wrapper that does not carry its target is followed
once through the client (:func:`resolve`) and the page it ends on is kept
for the article.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Protocol

from watcher.config import Config, FeedConfig
from watcher.dedup import unwrap
from watcher.errors import FeedError
from watcher.fetch.client import Client, FetchError
from watcher.fetch.hosts import host_of
from watcher.fetch.response import Response
from watcher.match.patterns import pattern_problem
from watcher.parse import discovery, links, telegram
from watcher.parse.entry import FeedEntry, ParsedFeed
from watcher.parse.feed import parse_feed
from watcher.parse.sitemap import Sitemap, parse_sitemap, walk_sitemaps
from watcher.pipeline.tally import Tally


class Fetching(Protocol):
    """What reading needs of the pipeline's parts: the guarded client and the
    config (a poll's ``Parts``, or a ``watcher worker``'s reader)."""

    @property
    def client(self) -> Client: ...

    @property
    def config(self) -> Config: ...


FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
SITEMAP_ACCEPT = "application/xml, text/xml;q=0.9, application/gzip;q=0.8, text/plain;q=0.5, */*;q=0.3"
ACCEPT = {"feed": FEED_ACCEPT, "telegram": HTML_ACCEPT, "sitemap": SITEMAP_ACCEPT, "page": HTML_ACCEPT}

_POST_ID = re.compile(r"/([0-9]{1,12})$")


@dataclasses.dataclass(frozen=True)
class Reading:
    parsed: ParsedFeed
    # Whether the first answer's ETag/Last-Modified stand for all that was read
    # (not for a sitemap index, whose children change under an unchanged index).
    validators: bool = True
    text_only: frozenset[str] = frozenset()  # GUIDs whose entry is the article itself


def accept(feed: FeedConfig) -> str:
    return ACCEPT.get(feed.kind, FEED_ACCEPT)


def request_headers(feed: FeedConfig, url: str) -> tuple[tuple[str, str], ...]:
    """The source's own headers (and User-Agent) for a request to ``url``: only
    on the source's own host, so a cookie for one outlet never goes to another."""
    own = feed.headers + ((("User-Agent", feed.user_agent),) if feed.user_agent else ())
    if not own or host_of(url) != host_of(feed.url):
        return ()
    return own


def read(parts: Fetching, feed: FeedConfig, response: Response, tally: Tally, recent: list[str]) -> Reading:
    """The entries of ``feed`` whose first document is ``response`` (a 2xx);
    FeedError when it cannot be read. ``recent``: guids of the feed's newest
    stored entries (where a Telegram channel's paging may stop)."""
    if feed.kind == "telegram":
        reading = _telegram(parts, feed, response, tally, recent)
    elif feed.kind == "sitemap":
        reading = _sitemap(parts, feed, response, tally)
    elif feed.kind == "page":
        reading = _page(feed, response)
    else:
        reading = Reading(_feed(response))
    return dataclasses.replace(reading, parsed=_unwrapped(reading.parsed))


def _feed(response: Response) -> ParsedFeed:
    try:
        return parse_feed(response.body, url=response.url, content_type=response.content_type)
    except FeedError as exc:
        named = _named_feeds(response)
        if not named:
            raise
        raise FeedError(
            f"{exc}; the page names its feed{'s' if len(named) > 1 else ''}: {', '.join(named)} "
            f"(`watcher feeds add {response.url}` lists and adds them)"
        ) from None


def _named_feeds(response: Response) -> list[str]:
    head = response.body[:2048].lstrip().lower()
    if not (head.startswith((b"<!doctype html", b"<html")) or b"<html" in head):
        return []
    found = discovery.discover(response.body, url=response.url, content_type=response.content_type)
    return [f.url for f in found.feeds[:3]]


# -- Telegram ----------------------------------------------------------------------


def _telegram(parts: Fetching, feed: FeedConfig, first: Response, tally: Tally, recent: list[str]) -> Reading:
    channel = feed.channel or ""
    base = feed.preview_base
    first_url = telegram.preview_url(channel, base=base)

    def load(url: str) -> telegram.ChannelPage:
        answer = first if url == first_url else _get(parts, feed, url, tally, HTML_ACCEPT)
        if answer.status != 200:
            raise FeedError(f"HTTP {answer.status} from {answer.url}")
        return telegram.parse_preview(answer.body, channel=channel, content_type=answer.content_type)

    known = [
        int(m.group(1)) for g in recent if g.startswith("https://t.me/") for m in [_POST_ID.search(g)] if m
    ]
    read = telegram.read_channel(
        channel,
        load,
        errors=(FeedError, FetchError),
        max_pages=feed.max_pages,
        known_newest=max(known) if known else None,
        base=base,
    )
    entries: list[FeedEntry] = []
    for post in read.posts:  # newest first
        if feed.follow_links:
            for link in post.links:
                if host_of(link) not in ("t.me", "telegram.me"):
                    entries.append(dataclasses.replace(post.entry, guid=link, url=link))
        entries.append(post.entry)
    unique = list({e.guid: e for e in reversed(entries)}.values())[::-1]  # a link in two posts: the newest
    return Reading(
        dataclasses.replace(read.feed, entries=tuple(unique)),
        validators=False,
        text_only=frozenset(p.entry.guid for p in read.posts),
    )


# -- sitemaps ----------------------------------------------------------------------


def _sitemap(parts: Fetching, feed: FeedConfig, first: Response, tally: Tally) -> Reading:
    def load(url: str) -> Sitemap:
        answer = first if url == feed.url else _get(parts, feed, url, tally, SITEMAP_ACCEPT)
        if answer.status != 200:
            raise FeedError(f"HTTP {answer.status} from {answer.url}")
        return parse_sitemap(answer.body, url=answer.url, content_type=answer.content_type)

    walk = walk_sitemaps(feed.url, load, errors=(FeedError, FetchError), max_sitemaps=feed.max_sitemaps)
    return Reading(_newest(walk.feed, feed.max_entries), validators=len(walk.loaded) == 1)


# -- index pages -------------------------------------------------------------------


def link_rule(feed: FeedConfig) -> links.LinkRule:
    """The rule picking a ``page`` source's article links; ValueError saying what is wrong."""
    return links.LinkRule(
        pattern=links.compile_pattern(feed.link_pattern, problem=pattern_problem)
        if feed.link_pattern
        else None,
        selector=links.compile_selector(feed.selector) if feed.selector else None,
    )


def _page(feed: FeedConfig, response: Response) -> Reading:
    try:
        rule = link_rule(feed)
    except ValueError as exc:  # `watcher check` and the start-up refuse it before
        raise FeedError(str(exc)) from None
    parsed = links.index_links(response.body, url=response.url, rule=rule, content_type=response.content_type)
    return Reading(_newest(parsed, feed.max_entries))


def _newest(parsed: ParsedFeed, limit: int) -> ParsedFeed:
    if len(parsed.entries) <= limit:
        return parsed
    note = f"{len(parsed.entries)} links, the first {limit} were looked at (max_entries)"
    warning = f"{parsed.warning}; {note}" if parsed.warning else note
    return dataclasses.replace(parsed, entries=parsed.entries[:limit], warning=warning)


# -- wrapped links -----------------------------------------------------------------


def _unwrapped(parsed: ParsedFeed) -> ParsedFeed:
    """Entries whose link is a wrapper carrying its target get the target (the guid stays)."""
    changed = False
    entries = []
    for entry in parsed.entries:
        if entry.url and unwrap.is_wrapper(entry.url):
            target = unwrap.unwrap(entry.url)
            if target and target != entry.url:
                entry = dataclasses.replace(entry, url=target)
                changed = True
        entries.append(entry)
    return dataclasses.replace(parsed, entries=tuple(entries)) if changed else parsed


def resolve(parts: Fetching, feed: FeedConfig, entry: FeedEntry, tally: Tally) -> FeedEntry:
    """A new entry whose link is a wrapper without its target (FeedBurner, new
    Google News ids): the link is followed once through the guarded client and
    the final URL kept (the page it ends on is kept for the article). Any
    other entry, or a link that cannot be followed, is returned as it is."""
    if not (entry.url and unwrap.is_wrapper(entry.url)) or not feed.fetch_article:
        return entry
    try:
        answer = _get(parts, feed, entry.url, tally, HTML_ACCEPT, page=True)
    except FetchError:
        return entry  # the page fetch will say what went wrong
    final = unwrap.unwrap(answer.url) or answer.url
    if answer.status != 200 or unwrap.is_wrapper(final):
        return entry
    tally.pages[final] = answer
    return dataclasses.replace(entry, url=final)


def _get(
    parts: Fetching, feed: FeedConfig, url: str, tally: Tally, accept: str, *, page: bool = False
) -> Response:
    net = parts.config.network
    return parts.client.get(
        url,
        max_bytes=net.max_page_bytes if page else net.max_feed_bytes,
        accept=accept,
        deadline=tally.deadline,
        headers=request_headers(feed, url),
    )


def source_problems(feeds: tuple[FeedConfig, ...]) -> list[str]:
    """What the config reader cannot check itself (it may not import the parsers):
    each ``page`` source's selector and link pattern, one line per problem."""
    problems = []
    for i, feed in enumerate(feeds):
        if feed.kind != "page":
            continue
        for key, check in (("link_pattern", _pattern), ("selector", _selector)):
            value = getattr(feed, key)
            problem = check(value) if value else None
            if problem:
                problems.append(f"feeds[{i}].{key}: {problem}")
    return problems


def _pattern(text: str) -> str | None:
    try:
        links.compile_pattern(text, problem=pattern_problem)
    except ValueError as exc:
        return str(exc)
    return None


def _selector(text: str) -> str | None:
    try:
        links.compile_selector(text)
    except ValueError as exc:
        return str(exc)
    return None
