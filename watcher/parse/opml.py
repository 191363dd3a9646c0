"""OPML subscription lists: import (OPML 1.0/2.0) and export (OPML 2.0).

Import reads every ``<outline>`` with an ``xmlUrl`` as a feed (the attribute
name in any case, as exporters differ); an outline without one is a folder.
The feed's tags are the folders it sits in (outermost first) followed by the
names in its OPML 2.0 ``category`` attribute (``"/a/b,c"`` gives ``a``, ``b``,
``c``), without repeats. A feed listed twice is one feed with both lists of
tags. Only http(s) feed URLs are kept; the others are counted in the warning.

Export writes OPML 2.0: feeds with tags sit in a folder named by their first
tag and carry their other tags in ``category``, so import(export(x)) gives
the same feeds with the same tags (commas and slashes inside a tag, which
OPML reads as separators, become spaces).

Bounded: the document is defused first (no DOCTYPE, hence no entity
expansion), read incrementally by the standard library's expat parser,
at most ``MAX_FEEDS`` feeds and ``MAX_DEPTH`` folder levels per feed (deeper
folders still count; only their names are dropped). Nesting 10,000 deep costs
a list of 10,000 names, no recursion.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import cast
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError, XMLPullParser
from xml.sax.saxutils import escape, quoteattr

from watcher.errors import OpmlError
from watcher.parse import xmlfix, xmlguard

MAX_FEEDS = 5_000
MAX_DEPTH = 16  # folder names kept per feed
MAX_TAG = 100  # characters of one tag
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str
    html_url: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpmlDocument:
    title: str | None
    feeds: tuple[OpmlFeed, ...]
    warning: str | None  # what was skipped or cut, in one line


def read_opml(data: bytes) -> OpmlDocument:
    """The feeds of an OPML document (bytes as read from a file)."""
    if not data.strip():
        raise OpmlError("empty file")
    repaired, bare = xmlfix.escape_bare_ampersands(_utf8(data))
    try:
        defused, note = xmlguard.defuse(repaired)
    except xmlguard.MarkupError as exc:
        raise OpmlError(f"not an OPML file: {exc}") from None
    parser: XMLPullParser[Element] = XMLPullParser(events=("start", "end"))
    folders: list[str | None] = []  # one slot per open <outline>: its folder name or None
    feeds: dict[str, OpmlFeed] = {}
    title: str | None = None
    root: str | None = None
    skipped: list[str] = []
    deep = stopped = False
    in_head = False
    try:
        for start in range(0, len(defused), _CHUNK):
            parser.feed(defused[start : start + _CHUNK])
            for event, element in _events(parser):
                name = element.tag.rsplit("}", 1)[-1].lower()
                if root is None:
                    root = name
                    if name != "opml":
                        raise OpmlError(f"not an OPML file: the root element is <{name}>, not <opml>")
                if name == "head":
                    in_head = event == "start"
                elif name == "title" and in_head and event == "end":
                    title = " ".join((element.text or "").split()) or None
                if name != "outline":
                    continue
                if event == "end":
                    folders.pop()
                    element.clear()
                    continue
                attrs = {k.lower(): v for k, v in element.attrib.items()}
                url = (attrs.get("xmlurl") or "").strip()
                label = " ".join((attrs.get("text") or attrs.get("title") or "").split())
                if not url:
                    folders.append(label[:MAX_TAG] or None)
                    continue
                folders.append(None)
                if not _http(url):
                    skipped.append(url)
                    continue
                path = [f for f in folders[:-1] if f]
                deep = deep or len(path) > MAX_DEPTH
                tags = _unique(path[:MAX_DEPTH] + _categories(attrs.get("category") or ""))
                html_url = (attrs.get("htmlurl") or "").strip()
                feed = OpmlFeed(
                    url=url,
                    title=label or url,
                    html_url=html_url if _http(html_url) else None,
                    tags=tuple(tags),
                )
                if url in feeds:
                    known = feeds[url]
                    feeds[url] = OpmlFeed(
                        known.url,
                        known.title,
                        known.html_url,
                        tuple(_unique([*known.tags, *feed.tags])),
                    )
                elif len(feeds) < MAX_FEEDS:
                    feeds[url] = feed
                else:
                    stopped = True
                    break
            if stopped:
                break
        if not stopped:
            parser.close()
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise OpmlError(f"not an OPML file: not well-formed XML (line {line}, column {column})") from None
    if root is None:
        raise OpmlError("not an OPML file: no XML element in it")
    notes = [
        note,
        f"{bare} bare '&' characters were read as '&amp;'" if bare else None,
        f"{len(skipped)} outlines whose xmlUrl is not an http(s) URL were skipped "
        f"(first: {skipped[0][:80]!r})"
        if skipped
        else None,
        f"folders nested more than {MAX_DEPTH} deep: only the outer {MAX_DEPTH} became tags"
        if deep
        else None,
        f"only the first {MAX_FEEDS:,} feeds were read" if stopped else None,
    ]
    return OpmlDocument(
        title=title,
        feeds=tuple(feeds.values()),
        warning="; ".join(n for n in notes if n) or None,
    )


def write_opml(feeds: Sequence[OpmlFeed], *, title: str, now: datetime) -> bytes:
    """An OPML 2.0 document listing ``feeds`` (folders by first tag, in first-seen order)."""
    loose = [f for f in feeds if not f.tags]
    folders: dict[str, list[OpmlFeed]] = {}
    for feed in feeds:
        if feed.tags:
            folders.setdefault(" ".join(feed.tags[0].split())[:MAX_TAG], []).append(feed)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{escape(title)}</title>",
        f"    <dateCreated>{format_datetime(now.astimezone(UTC), usegmt=True)}</dateCreated>",
        "  </head>",
        "  <body>",
    ]
    lines += [_outline(f, "    ") for f in loose]
    for folder, members in folders.items():
        lines.append(f"    <outline text={quoteattr(folder)} title={quoteattr(folder)}>")
        lines += [_outline(f, "      ") for f in members]
        lines.append("    </outline>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8")


def _outline(feed: OpmlFeed, indent: str) -> str:
    attrs = [
        ("type", "rss"),
        ("text", feed.title),
        ("title", feed.title),
        ("xmlUrl", feed.url),
    ]
    if feed.html_url:
        attrs.append(("htmlUrl", feed.html_url))
    others = [_clean_tag(t) for t in feed.tags[1:]]
    if others:
        attrs.append(("category", ",".join(t for t in others if t)))
    return indent + "<outline " + " ".join(f"{k}={_attr(v)}" for k, v in attrs) + "/>"


def _attr(value: str) -> str:
    # quoteattr leaves newlines and tabs, which XML attribute normalisation turns into spaces
    return quoteattr(value, {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _clean_tag(tag: str) -> str:
    return " ".join(re.sub(r"[,/]", " ", tag).split())[:MAX_TAG]


def _categories(value: str) -> list[str]:
    names: list[str] = []
    for category in value.split(","):
        names += [" ".join(part.split())[:MAX_TAG] for part in category.split("/")]
    return [n for n in names if n]


def _unique(names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        if name and name not in seen:
            seen.add(name)
            out.append(name)
    return out


def _http(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _utf8(data: bytes) -> bytes:
    """UTF-16 files re-encoded as UTF-8 (the byte-level guard needs ASCII-compatible bytes)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
        text = re.sub(r"^\s*<\?xml[^>]*\?>", '<?xml version="1.0" encoding="utf-8"?>', text)
        return text.encode("utf-8")
    return data


def _events(parser: XMLPullParser[Element]) -> Iterator[tuple[str, Element]]:
    """The parser's (event, element) pairs (start/end events only carry elements)."""
    for event, element in cast("Iterator[tuple[str, object]]", parser.read_events()):
        if isinstance(element, Element):
            yield event, element
