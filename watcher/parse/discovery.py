"""Feed discovery: which feeds a site or page names, and where else to look.

For ``watcher feeds add <site or page>``:

1. :func:`discover` reads the page's ``<link rel="alternate">`` elements whose
   type is RSS, Atom, RDF or JSON Feed (the feeds the page names, in page
   order), and links in the page that look like feeds (``.rss``, ``/feed``...)
   as weaker candidates;
2. :func:`common_paths` lists the usual feed addresses of the site
   (``/feed``, ``/rss.xml``, ``/atom.xml``...), to try when the page names none;
3. :func:`robots_sitemaps` reads the ``Sitemap:`` lines of ``/robots.txt``.

Nothing is fetched here: the caller fetches each candidate through the guarded
client and keeps those the feed parser reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from watcher.parse import htmltree
from watcher.parse.href import absolute, document_base

MAX_CANDIDATES = 20
_FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/rdf+xml": "rdf",
    "application/feed+json": "json",
    "application/json": "json",
    "application/x.atom+xml": "atom",
    "application/x-atom+xml": "atom",
    "text/xml": "rss",
    "application/xml": "rss",
    "application/rss": "rss",
}
_FEEDISH = re.compile(
    r"(?:\.(?:rss|atom|rdf)(?:$|\?)|/(?:feed|rss|atom)(?:/|\.xml|$|\?)|[/.?&=]rss2?(?:$|[/.?&]))",
    re.IGNORECASE,
)
COMMON_PATHS = (
    "/feed",
    "/rss",
    "/feed.xml",
    "/rss.xml",
    "/atom.xml",
    "/index.xml",
    "/feed/",
    "/rss/",
    "/feeds/posts/default",
    "/?feed=rss2",
    "/feed.json",
)


@dataclass(frozen=True)
class FeedLink:
    url: str
    title: str
    kind: str  # "rss" | "atom" | "rdf" | "json" | "link" (a link that looks like a feed)


@dataclass(frozen=True)
class Discovery:
    feeds: tuple[FeedLink, ...]  # named by <link rel="alternate">, in page order
    candidates: tuple[FeedLink, ...]  # links in the page that look like feeds
    title: str | None


def discover(data: bytes, *, url: str, content_type: str | None = None) -> Discovery:
    """The feeds an HTML page at ``url`` names. An unreadable page names none."""
    try:
        root = htmltree.parse_html(data, content_type=content_type)
    except htmltree.MarkupError:
        return Discovery(feeds=(), candidates=(), title=None)
    base = document_base(root, url)
    feeds: list[FeedLink] = []
    for link in root.iter("link"):
        rel = {r.lower() for r in (link.attr("rel") or "").split()}
        kind = _FEED_TYPES.get((link.attr("type") or "").split(";")[0].strip().lower())
        if "alternate" not in rel or kind is None or "stylesheet" in rel:
            continue
        if (
            kind == "json"
            and (link.attr("type") or "").lower().startswith("application/json")
            and not (link.attr("title") or "").strip()
        ):
            continue  # oEmbed and API links use application/json too
        href = _feed_link(link.attr("href"), base)
        if href and href not in {f.url for f in feeds}:
            feeds.append(
                FeedLink(
                    url=href,
                    title=" ".join((link.attr("title") or "").split()),
                    kind=kind,
                )
            )
        if len(feeds) >= MAX_CANDIDATES:
            break
    known = {f.url for f in feeds}
    candidates: list[FeedLink] = []
    for anchor in root.iter("a"):
        href = _feed_link(anchor.attr("href"), base)
        if not href or href in known or not _FEEDISH.search(urlsplit(href).path + "?" + urlsplit(href).query):
            continue
        known.add(href)
        candidates.append(FeedLink(url=href, title=anchor.text()[:200], kind="link"))
        if len(candidates) >= MAX_CANDIDATES:
            break
    title = next((t.text() for t in root.iter("title")), "") or None
    return Discovery(feeds=tuple(feeds), candidates=tuple(candidates), title=title)


def common_paths(url: str) -> tuple[str, ...]:
    """The usual feed addresses on ``url``'s site (scheme and host kept), to try in order."""
    parts = urlsplit(url)
    root = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return tuple(root + path for path in COMMON_PATHS)


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))


def robots_sitemaps(data: bytes, *, url: str) -> tuple[str, ...]:
    """The ``Sitemap:`` URLs of a robots.txt fetched from ``url`` (at most MAX_CANDIDATES)."""
    found: list[str] = []
    for line in data[: 512 * 1024].decode("utf-8", errors="replace").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() != "sitemap":
            continue
        href = _feed_link(value.split("#", 1)[0].strip(), url)
        if href and href not in found:
            found.append(href)
            if len(found) >= MAX_CANDIDATES:
                break
    return tuple(found)


def _feed_link(href: str | None, base: str) -> str | None:
    """``href`` made absolute, ``feed:`` forms unwrapped (feed://host/path, feed:https://host/path)."""
    if href and href.strip().lower().startswith("feed://"):
        href = "http://" + href.strip()[7:]
    elif href and href.strip().lower().startswith("feed:"):
        href = href.strip()[5:]
    return absolute(href, base)
