"""XML sitemaps, sitemap indexes and Google News sitemaps (``news:`` tags).

A ``<urlset>`` gives one :class:`FeedEntry` per ``<url>``: its ``<loc>`` is the
guid and link, the Google News extension gives title, publication date and
language, ``<lastmod>`` the date otherwise. Entries come newest first (dated
ones by date, then undated ones in document order), at most ``MAX_ENTRIES``.
A ``<sitemapindex>`` gives child sitemap URLs instead, in document order;
:func:`walk_sitemaps` (:mod:`watcher.parse.sitemapindex`) loads them through a
function the caller gives (the guarded client's GET, then :func:`parse_sitemap`),
breadth first, with depth and count bounds and loop detection. ``sitemap.xml.gz`` files are inflated
here, to at most ``MAX_INFLATED`` bytes. A plain-text sitemap
(one URL a line) is read too.

Bounded: the document is defused first (``xmlguard.defuse``: no DOCTYPE, so
no entity expansion and nothing read from disk or network) and read
incrementally with the standard library's expat parser, which stops after
``MAX_URLS`` URLs (the protocol's own limit per file) or ``MAX_CHILDREN``
children, so a file of a million URLs costs no more than one of 50,000.
"""

from __future__ import annotations

import codecs
import email.utils
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast
from xml.etree.ElementTree import Element, ParseError, XMLPullParser

from watcher.errors import FeedError
from watcher.parse import xmlfix, xmlguard
from watcher.parse.entry import MAX_ENTRIES, FeedEntry, ParsedFeed
from watcher.parse.href import absolute
from watcher.parse.sitemapindex import SitemapWalk, walk_sitemaps

MAX_URLS = 50_000  # <url> elements read per file (the sitemap protocol's maximum)
MAX_CHILDREN = 1_000  # child sitemaps listed per index
MAX_LOC = 2_048  # characters of a URL
MAX_INFLATED = 50 * 1024 * 1024  # bytes of a gzip sitemap (.xml.gz), inflated: the protocol's own limit
_CHUNK = 64 * 1024
_SNIFF = 2048


@dataclass(frozen=True)
class Sitemap:
    feed: ParsedFeed  # the URLs as entries, newest first
    sitemaps: tuple[str, ...]  # child sitemaps of an index, in document order
    is_index: bool


@dataclass
class _Record:
    loc: str = ""
    lastmod: str = ""
    published: str = ""
    title: str = ""
    language: str = ""
    position: int = 0


def parse_sitemap(data: bytes, *, url: str, content_type: str | None = None) -> Sitemap:
    """Parse a sitemap document (bytes as fetched from ``url``, already decompressed)."""
    if not data.strip():
        raise FeedError("empty document: the server sent no content")
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data)
    head = data[:_SNIFF].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<") and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _plain_text(data, url)
    return _xml(_utf8(data), url)


# --- gzip files (sitemap.xml.gz served as a file, not as a Content-Encoding) ---


def _gunzip(data: bytes) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, MAX_INFLATED + 1)
    except zlib.error as exc:
        raise FeedError(f"not a sitemap: broken gzip data ({exc})") from None
    if len(out) > MAX_INFLATED:
        raise FeedError(f"the gzip sitemap inflates to more than {MAX_INFLATED // (1024 * 1024)} MB; refused")
    if not inflater.eof:
        raise FeedError("not a sitemap: the gzip data is cut short")
    return out


# --- XML ------------------------------------------------------------------------


def _utf8(data: bytes) -> bytes:
    """UTF-16 documents re-encoded as UTF-8 (the byte-level guard needs ASCII-compatible bytes)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
        text = re.sub(r"^\s*<\?xml[^>]*\?>", '<?xml version="1.0" encoding="utf-8"?>', text)
        return text.encode("utf-8")
    return data


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _xml(data: bytes, url: str) -> Sitemap:
    repaired, bare = xmlfix.escape_bare_ampersands(_cut(data))
    try:
        defused, note = xmlguard.defuse(repaired)
    except xmlguard.MarkupError as exc:
        raise FeedError(f"not a sitemap: {exc}") from None
    parser: XMLPullParser[Element] = XMLPullParser(events=("start", "end"))
    root_name: str | None = None
    path: list[str] = []
    records: list[_Record] = []
    children: list[str] = []
    current = _Record()
    stopped = problem = None
    seen_urls = 0
    try:
        for start in range(0, len(defused), _CHUNK):
            parser.feed(defused[start : start + _CHUNK])
            for event, element in _events(parser):
                name = _local(element.tag)
                if event == "start":
                    if root_name is None:
                        root_name = name
                        _check_root(name, defused)
                    path.append(name)
                    continue
                path.pop()
                text = (element.text or "").strip()
                if root_name == "urlset":
                    if name == "url":
                        seen_urls += 1
                        current.position = seen_urls
                        records.append(current)
                        current = _Record()
                        element.clear()
                        if seen_urls >= MAX_URLS:
                            stopped = f"only the first {MAX_URLS:,} URLs were read"
                            break
                    elif path and path[-1] == "url" and name == "loc":
                        current.loc = text[:MAX_LOC]
                    elif path and path[-1] == "url" and name == "lastmod":
                        current.lastmod = text
                    elif "news" in path:
                        _news(current, name, text)
                elif root_name == "sitemapindex":
                    if name == "loc" and path and path[-1] == "sitemap" and text:
                        children.append(text[:MAX_LOC])
                        if len(children) >= MAX_CHILDREN:
                            stopped = f"only the first {MAX_CHILDREN:,} child sitemaps were read"
                            break
                    elif name == "sitemap":
                        element.clear()
            if stopped:
                break
        if not stopped:
            parser.close()
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        problem = f"not well-formed XML (line {line}, column {column})"
        if root_name is None or (not records and not children):
            raise FeedError(f"not a sitemap: {problem}") from None
    if root_name is None:
        raise FeedError("not a sitemap: no XML element in the document")
    notes = [
        note,
        f"{bare} bare '&' characters were read as '&amp;'" if bare else None,
        stopped,
        f"{problem}; the part before it was read" if problem else None,
    ]
    if root_name == "sitemapindex":
        links = _absolute_unique(children, url)
        return Sitemap(
            feed=ParsedFeed(title=None, language=None, entries=(), warning=_join(notes)),
            sitemaps=tuple(links),
            is_index=True,
        )
    return _urlset(records, url, notes)


def _cut(data: bytes) -> bytes:
    """The document up to its MAX_URLS-th ``</url>`` (the parser stops there anyway;
    cutting first spares defusing megabytes that would never be read)."""
    end = 0
    for _ in range(MAX_URLS):
        end = data.find(b"</url", end)
        if end < 0:
            return data
        end += 5
    close = data.find(b">", end)
    return data if close < 0 else data[: close + 1]


def _check_root(name: str, data: bytes) -> None:
    if name in ("urlset", "sitemapindex"):
        return
    if name in ("rss", "feed", "rdf"):
        raise FeedError(f"not a sitemap: the document is a feed (<{name}>); add it as a feed instead")
    if name == "html" or b"<html" in data[:_SNIFF].lower():
        raise FeedError(
            "not a sitemap: the document is an HTML page; sitemaps are listed in the "
            "site's /robots.txt (Sitemap: lines)"
        )
    raise FeedError(f"not a sitemap: the root element <{name}> is not <urlset> or <sitemapindex>")


def _news(record: _Record, name: str, text: str) -> None:
    if name == "publication_date":
        record.published = text
    elif name == "title":
        record.title = text
    elif name == "language":
        record.language = text


def _urlset(records: list[_Record], base: str, notes: list[str | None]) -> Sitemap:
    """Newest first: records are ordered by date before their URLs are checked,
    so only about MAX_ENTRIES of them cost URL parsing."""
    dated: list[tuple[datetime, int, datetime | None, _Record]] = []
    undated: list[_Record] = []
    for record in records:
        lastmod = _date(record.lastmod)
        published = _date(record.published) or lastmod
        if published is None:
            undated.append(record)
        else:
            dated.append((published, -record.position, lastmod, record))
    dated.sort(key=lambda item: (item[0], item[1]), reverse=True)
    ordered = [(p, m, r) for p, _, m, r in dated] + [(None, None, r) for r in undated]
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    dropped = 0
    languages: set[str] = set()
    for published, lastmod, record in ordered:
        if len(entries) >= MAX_ENTRIES:
            break
        link = _absolute(record.loc, base)
        if link is None:
            dropped += bool(record.loc)
            continue
        if link in seen:
            continue
        seen.add(link)
        language = _language(record.language)
        if language:
            languages.add(language)
        entries.append(
            FeedEntry(
                guid=link,
                url=link,
                title=" ".join(record.title.split()),
                summary="",
                author=None,
                published=published,
                language=language,
                updated=lastmod,
            )
        )
    if dropped:
        notes.append(f"{dropped} <loc> values that are not http(s) URLs were skipped")
    if len(entries) >= MAX_ENTRIES and len(ordered) > MAX_ENTRIES:
        notes.append(f"{len(ordered):,} URLs in the sitemap, only the {MAX_ENTRIES} newest were kept")
    return Sitemap(
        feed=ParsedFeed(
            title=None,
            language=languages.pop() if len(languages) == 1 else None,
            entries=tuple(entries),
            warning=_join(notes),
        ),
        sitemaps=(),
        is_index=False,
    )


# --- plain text --------------------------------------------------------------------


def _plain_text(data: bytes, url: str) -> Sitemap:
    head = data[:_SNIFF].lower()
    if b"<html" in head or b"<!doctype" in head:
        raise FeedError("not a sitemap: the document is an HTML page")
    lines = []
    for count, line in enumerate(data.split(b"\n")):
        if count >= MAX_URLS:
            break
        text = line.decode("utf-8", errors="replace").strip()
        if text:
            lines.append(_Record(loc=text[:MAX_LOC], position=count + 1))
    if not any(_absolute(r.loc, url) and "://" in r.loc for r in lines[:50]):
        raise FeedError("not a sitemap: neither XML nor a list of URLs (one per line)")
    notes: list[str | None] = [
        f"only the first {MAX_URLS:,} lines were read" if data.count(b"\n") >= MAX_URLS else None
    ]
    return _urlset(lines, url, notes)


# --- shared --------------------------------------------------------------------------


def _absolute(loc: str, base: str) -> str | None:
    if " " in loc.strip():  # a <loc> is one URL; text with spaces is not one
        return None
    return absolute(loc, base)


def _absolute_unique(locs: list[str], base: str) -> list[str]:
    out: list[str] = []
    for loc in locs:
        link = _absolute(loc, base)
        if link and link not in out:
            out.append(link)
    return out


def _date(value: str) -> datetime | None:
    value = " ".join(value.split())
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")


def _language(value: str) -> str | None:
    tag = value.strip().replace("_", "-").lower()
    return tag if _LANGUAGE.match(tag) else None


def _join(notes: list[str | None]) -> str | None:
    return "; ".join(n for n in notes if n) or None


def _events(parser: XMLPullParser[Element]) -> Iterator[tuple[str, Element]]:
    """The parser's (event, element) pairs (start/end events only carry elements)."""
    for event, element in cast("Iterator[tuple[str, object]]", parser.read_events()):
        if isinstance(element, Element):
            yield event, element


__all__ = ["MAX_URLS", "Sitemap", "SitemapWalk", "parse_sitemap", "walk_sitemaps"]
