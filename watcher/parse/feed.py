"""Feed parsing: RSS 0.9x/1.0/2.0, Atom, RDF (via feedparser) and JSON Feed
(handed to :mod:`watcher.parse.jsonfeed`); what they make is in
:mod:`watcher.parse.entry`.

This is the only module that imports ``feedparser``. It is always given the
document's bytes (in a ``BytesIO``), never a URL, path or ``str``: feedparser
fetches URLs and opens file names it is handed.

Before feedparser sees a document, :mod:`watcher.parse.xmlguard` removes its
DOCTYPE (no entity expansion bombs, nothing read from disk or network) and
cuts it to ``MAX_ENTRIES`` entries and a markup budget, on the same UTF-8
text feedparser would parse (after its own encoding detection), so a UTF-16
or UTF-7 document cannot smuggle a DOCTYPE past the guard.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
from datetime import datetime, timezone
from xml.parsers import expat
from xml.sax import SAXParseException
from xml.sax.xmlreader import Locator

import feedparser
from feedparser.api import LooseFeedParser, StrictFeedParser
from feedparser.datetimes import _parse_date
from feedparser.encodings import convert_to_utf8
from feedparser.exceptions import CharacterEncodingOverride, NonXMLContentType
from feedparser.html import _cp1252
from feedparser.urls import _urljoin, make_safe_absolute_uri
from feedparser.util import FeedParserDict

from watcher.errors import FeedError
from watcher.parse import xmlfeed, xmlguard
from watcher.parse.entry import (
    MAX_ENTRIES,
    FeedEntry,
    ParsedFeed,
    absolute_url,
    as_text,
    entry_guid,
    join_notes,
    language_tag,
    plain_text,
    richest,
)
from watcher.parse.jsonfeed import SNIFF, looks_like_json, parse_json_feed

__all__ = ["MAX_ENTRIES", "FeedEntry", "FeedError", "ParsedFeed", "parse_feed"]

log = logging.getLogger("watcher.parse")


def parse_feed(data: bytes, *, url: str, content_type: str | None = None, fast: bool = True) -> ParsedFeed:
    """Parse a feed document (bytes as fetched from ``url``). Raises FeedError and
    nothing else, whatever the bytes: a parser's failure on odd input is this
    document's error, never the caller's crash. ``fast``: RSS 2.0 and Atom
    that parse cleanly are read by :mod:`watcher.parse.xmlfeed` (the same
    entries, ten times sooner); False: feedparser reads everything."""
    try:
        if not data.strip():
            raise FeedError("empty document: the server sent no content")
        if looks_like_json(data, content_type):
            return parse_json_feed(data, url)
        return _parse_xml_feed(data, url, content_type, fast)
    except FeedError:
        raise
    except Exception as exc:  # the stage's promise: only FeedError leaves it
        raise FeedError(
            f"not a feed: the document could not be parsed ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None


# --- XML feeds through feedparser -------------------------------------------


def _parse_xml_feed(data: bytes, url: str, content_type: str | None, fast: bool = True) -> ParsedFeed:
    data = _without_leading_space(data)
    utf8, detected, encoding_note = _to_utf8(data, content_type)
    parsed, bound_note = None, None
    try:
        xmlguard.check(utf8)
        if fast and utf8.count(b"<") <= xmlguard.MAX_MARKUP * 4:  # not hopelessly over the markup bound
            # Well-formed RSS / Atom within every bound: lxml reads the document as it is.
            defused, defuse_note = xmlguard.defuse(utf8)
            parsed = _fast(utf8, defused)
        if parsed is None:
            bounded, bound_note = xmlguard.bound(utf8, max_entries=MAX_ENTRIES, checked=True)
            defused, defuse_note = xmlguard.defuse(bounded)
    except xmlguard.MarkupError as exc:
        raise FeedError(f"not a feed: {exc}") from None
    reader = "lxml" if parsed is not None else "feedparser"
    if parsed is None:
        try:
            parsed = _feedparser(defused)
        except Exception as exc:
            raise FeedError(f"not a feed: the feed parser failed ({type(exc).__name__}: {exc})") from None
    if not parsed.entries and not parsed.version:
        raise FeedError(_not_a_feed(defused, content_type, parsed))
    feed = parsed.feed
    language = language_tag(feed.get("language"))
    author = plain_text(_xml_author(feed), is_html=True) or None
    entries = [_xml_entry(e, url, language, author) for e in parsed.entries[:MAX_ENTRIES]]
    notes = [
        _bozo_note(parsed),
        encoding_note or _encoding_note(detected, data, content_type),
        defuse_note,
        bound_note,
    ]
    return ParsedFeed(
        title=_detail_text(feed.get("title_detail"), feed.get("title")) or None,
        language=language,
        entries=tuple(entries),
        warning=join_notes(notes),
        reader=reader,
    )


_DECLARED_ENCODING = re.compile(
    rb"^(\xef\xbb\xbf)?(\s*<\?xml\b[^<>]*?)\s+encoding\s*=\s*(\"[^\"]*\"|'[^']*')", re.I
)
_ENCODING_NAME = re.compile(r"[A-Za-z0-9._:-]{1,40}")


def _to_utf8(data: bytes, content_type: str | None) -> tuple[bytes, dict, str | None]:
    """The document as UTF-8 (feedparser's detection: BOM, declaration, HTTP
    charset, then guesses), what was detected, and a note when a declared
    encoding name was unusable (a NUL or a stray byte in it) and left out."""
    headers = {"content-type": _clean_content_type(content_type)} if content_type else {}
    detected: dict = {}
    try:
        return convert_to_utf8(headers, data, detected), detected, None
    except (ValueError, LookupError, UnicodeError, TypeError):
        pass
    declared = _DECLARED_ENCODING.match(data)
    without = (declared.group(1) or b"") + declared.group(2) + data[declared.end() :] if declared else data
    headers = {"content-type": _clean_content_type(content_type, charset=False)} if content_type else {}
    detected = {}
    try:
        utf8 = convert_to_utf8(headers, without, detected)
    except (ValueError, LookupError, UnicodeError, TypeError) as exc:
        raise FeedError(f"not a feed: its declared character encoding cannot be used ({exc})") from None
    shown = declared.group(3)[1:-1].decode("ascii", "backslashreplace") if declared else "?"
    return (
        utf8,
        detected,
        (
            f"the declared character encoding {shown!r} is not a usable name; "
            f"read as {detected.get('encoding') or 'utf-8'}"
        ),
    )


def _clean_content_type(value: str | None, *, charset: bool = True) -> str:
    """The media type as ASCII text; a charset that is not a plain name is dropped."""
    text = "".join(c for c in (value or "") if " " <= c < "\x7f")
    parts = [p.strip() for p in text.split(";")]
    kept = [parts[0]] + [
        p
        for p in parts[1:]
        if not p.lower().startswith("charset")
        or (charset and _ENCODING_NAME.fullmatch(p.partition("=")[2].strip(" \"'")))
    ]
    return "; ".join(p for p in kept if p)


# What the fast path needs of feedparser to read as it does.
_FAST = xmlfeed.Helpers(
    parse_date=_parse_date,
    urljoin=_urljoin,
    safe_join=make_safe_absolute_uri,
    looks_like_html=StrictFeedParser.looks_like_html,
    cp1252=_cp1252,
    handled=frozenset(
        name.split("_", 2)[2].lower()
        for name in dir(StrictFeedParser)
        if name.startswith(("_start_", "_end_"))
    ),
    prefixes={uri.lower(): prefix for uri, prefix in StrictFeedParser.namespaces.items()},
)


def _fast(utf8: bytes, defused: bytes) -> FeedParserDict | None:
    """The fast path's reading of the document, or None: feedparser reads it,
    bounded (a fault of the fast path never costs a feed more than the time
    feedparser takes). The fast path reads the whole document only when the
    bounds would not have cut a thing: then it is what feedparser is given."""
    if not xmlguard.people_fit(utf8):
        return None  # an author long enough to be clipped first (feedparser's e-mail regex is quadratic)
    try:
        read = xmlfeed.read(
            defused, _FAST, lambda **shape: xmlguard.untouched(utf8, max_entries=MAX_ENTRIES, **shape)
        )
    except Exception:
        log.debug("the fast feed path failed; feedparser reads the feed", exc_info=True)
        return None
    return FeedParserDict(read) if read is not None else None


def _feedparser(defused: bytes):
    """feedparser's result for the (defused, bounded, UTF-8) document. A document
    that is not well-formed goes straight to feedparser's lenient parser: through
    ``feedparser.parse`` its strict parser would first run up to the error (on a
    hostile document, the end) and the lenient one then start again, twice the
    time (the same as what ``feedparser.parse`` does after a strict failure)."""
    problem = _not_well_formed(defused)
    if problem is None:
        return feedparser.parse(
            io.BytesIO(defused),
            response_headers={"content-type": "application/xml; charset=utf-8"},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    parser = LooseFeedParser("", None, "utf-8", {})
    parser.resolve_relative_uris = False
    parser.sanitize_html = False
    parser.feed(defused.decode("utf-8", "replace"))
    return FeedParserDict(
        bozo=True,
        bozo_exception=problem,
        feed=parser.feeddata,
        entries=parser.entries,
        version=parser.version,
        namespaces=parser.namespaces_in_use,
        headers={},
    )


def _not_well_formed(data: bytes) -> SAXParseException | None:
    """expat's complaint about ``data`` (namespaces on, as feedparser's strict parser
    has them), in C and without handlers; None if the document is well-formed."""
    checker = expat.ParserCreate(namespace_separator=" ")
    try:
        checker.Parse(data, True)
    except expat.ExpatError as exc:
        return SAXParseException(expat.ErrorString(exc.code), None, _Position(exc.lineno, exc.offset))
    return None


class _Position(Locator):
    def __init__(self, line: int, column: int) -> None:
        self._line, self._column = line, column

    def getLineNumber(self) -> int:  # SAX's naming
        return self._line

    def getColumnNumber(self) -> int:
        return self._column


def _without_leading_space(data: bytes) -> bytes:
    """Blank lines before ``<?xml`` (PHP's classic) make the document ill-formed;
    without them the strict parser reads it and the declared encoding counts."""
    bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
    rest = data[len(bom) :].lstrip(b" \t\r\n")
    return bom + rest if rest.startswith(b"<?xml") else data


def _xml_entry(entry, base_url: str, feed_language: str | None, feed_author: str | None) -> FeedEntry:
    title = _detail_text(entry.get("title_detail"), entry.get("title"))
    summary = richest(
        [_detail_text(c, c.get("value")) for c in entry.get("content") or []]
        + [_detail_text(entry.get("summary_detail"), entry.get("summary"))]
    )
    link = absolute_url(entry.get("link"), base_url)
    return FeedEntry(
        guid=entry_guid(as_text(entry.get("id")), link, title, summary),
        url=link,
        title=title,
        summary=summary,
        author=plain_text(_xml_author(entry), is_html=True) or feed_author,
        published=_from_struct(dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")),
        language=_entry_language(entry) or feed_language,
        updated=_from_struct(dict.get(entry, "updated_parsed")),
    )


_EMAIL_NAME = re.compile(r"^\s*\S+@\S+\s+\((.+)\)\s*$")


def _xml_author(entry) -> str:
    """The author's name(s); RSS writes 'email (Name)', which feedparser can mangle."""
    names = [as_text(a.get("name")) for a in entry.get("authors") or [] if isinstance(a, dict)]
    if len([n for n in names if n]) > 1:
        return ", ".join(n for n in names if n)
    raw = as_text(entry.get("author"))
    name = as_text((entry.get("author_detail") or {}).get("name"))
    if match := _EMAIL_NAME.match(raw):
        return match.group(1)
    return name if name and name in raw else raw or name


def _entry_language(entry) -> str | None:
    details = [entry.get("title_detail"), entry.get("summary_detail"), *(entry.get("content") or [])]
    for detail in details:
        if detail and language_tag(detail.get("language")):
            return language_tag(detail.get("language"))
    return language_tag(entry.get("language"))


def _detail_text(detail, value) -> str:
    """Plain text of a feedparser text construct (its ``type`` says html or not)."""
    kind = (detail or {}).get("type") or "text/html"
    if not (kind.startswith("text/") or "html" in kind or "xml" in kind):
        return ""  # binary content (base64 images, octet streams)
    return plain_text(as_text(value), is_html="html" in kind or "xml" in kind)


def _from_struct(value) -> datetime | None:
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return None


def _bozo_note(result) -> str | None:
    if not result.get("bozo"):
        return None
    exc = result.get("bozo_exception")
    if isinstance(exc, SAXParseException):
        return f"{_xml_problem(exc)}; read with the lenient parser"
    return f"{type(exc).__name__}: {exc}" if exc is not None else "malformed document"


def _xml_problem(exc: SAXParseException) -> str:
    return (
        f"not well-formed XML (line {exc.getLineNumber()}, column {exc.getColumnNumber()}: "
        f"{exc.getMessage()})"
    )


_XML_ENCODING = re.compile(rb"^\s*<\?xml[^<>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)", re.I)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)


def _encoding_note(detected: dict, data: bytes, content_type: str | None) -> str | None:
    """Only encoding trouble the publisher can act on: no charset declared by the
    server or the document fits the bytes. A server's non-XML media type, or
    RFC 3023's us-ascii default for text/*, are not news to anyone."""
    exc = detected.get("bozo_exception")
    if not detected.get("bozo") or isinstance(exc, NonXMLContentType):
        return None
    if isinstance(exc, CharacterEncodingOverride):
        declared = [m.group(1) for m in (_CHARSET.search(content_type or ""),) if m]
        declared += [
            m.group(1).decode("ascii")
            for m in (_XML_ENCODING.match(data.lstrip(b"\xef\xbb\xbf")[:300].replace(b"\x00", b"")),)
            if m
        ]
        if not declared or _codec(detected.get("encoding")) in {_codec(d) for d in declared}:
            return None
    return _bozo_note(detected)


def _codec(name: str | None) -> str | None:
    try:
        return codecs.lookup(name).name if name else None
    except LookupError:
        return None


def _not_a_feed(data: bytes, content_type: str | None, parsed) -> str:
    head = data[:SNIFF].lower()
    if b"<html" in head or b"<!doctype html" in head or "html" in (content_type or "").lower():
        return (
            "not a feed: the document is an HTML page; use the address of the site's "
            'RSS/Atom/JSON feed (look for <link rel="alternate"> in the page)'
        )
    exc = parsed.get("bozo_exception")
    if isinstance(exc, SAXParseException):
        return f"not a feed: {_xml_problem(exc)}"
    root = re.search(rb"<([A-Za-z_][\w:.-]*)", _strip_prologue(data[:SNIFF]))
    name = root.group(1).decode("ascii", "replace") if root else "?"
    return f"not a feed: the root element <{name}> is not RSS, Atom or RDF"


def _strip_prologue(data: bytes) -> bytes:
    return re.sub(rb"<\?.*?\?>|<!--.*?-->", b"", data, flags=re.S)
