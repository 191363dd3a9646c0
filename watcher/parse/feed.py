"""Feed parsing: RSS 0.9x/1.0/2.0, Atom, RDF (via feedparser) and JSON Feed.

This is the only module that imports ``feedparser``. It is always given the
document's bytes (in a ``BytesIO``), never a URL, path or ``str``: feedparser
fetches URLs and opens file names it is handed.

Before feedparser sees a document, :mod:`watcher.xmlguard` removes its
DOCTYPE (no entity expansion bombs, nothing read from disk or network) and
cuts it to ``MAX_ENTRIES`` entries and a markup budget, on the same UTF-8
text feedparser would parse (after its own encoding detection), so a UTF-16
or UTF-7 document cannot smuggle a DOCTYPE past the guard.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit
from xml.parsers import expat
from xml.sax import SAXParseException
from xml.sax.xmlreader import Locator

import feedparser
from feedparser.api import LooseFeedParser
from feedparser.encodings import convert_to_utf8
from feedparser.exceptions import CharacterEncodingOverride, NonXMLContentType
from feedparser.util import FeedParserDict

from watcher.errors import FeedError
from watcher.parse import markup, xmlguard

MAX_ENTRIES = 500  # entries kept per document, first ones first
_MAX_TEXT = 500_000  # characters of one title/summary looked at
_MAX_GUID = 1000  # characters; longer ids are replaced by their hash
_SNIFF = 2048  # bytes looked at to recognise JSON or HTML
MAX_JSON_MARKUP = 200_000  # tags in the HTML of the JSON items kept (stripped in linear time by markup.py)


@dataclass(frozen=True)
class FeedEntry:
    guid: str  # entry id, else link, else hash of title+summary
    url: str | None  # absolute http(s) link
    title: str  # plain text
    summary: str  # plain text of the richest of content/summary
    author: str | None
    published: datetime | None  # aware UTC
    language: str | None
    updated: datetime | None = None  # aware UTC: when the publisher says it last changed


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    language: str | None
    entries: tuple[FeedEntry, ...]
    warning: str | None  # what was wrong but recovered from


def parse_feed(data: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document (bytes as fetched from ``url``). Raises FeedError and
    nothing else, whatever the bytes: a parser's failure on odd input is this
    document's error, never the caller's crash."""
    try:
        if not data.strip():
            raise FeedError("empty document: the server sent no content")
        if _looks_like_json(data, content_type):
            return _parse_json_feed(data, url)
        return _parse_xml_feed(data, url, content_type)
    except FeedError:
        raise
    except Exception as exc:  # the stage's promise: only FeedError leaves it
        raise FeedError(
            f"not a feed: the document could not be parsed ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None


# --- XML feeds through feedparser -------------------------------------------


def _parse_xml_feed(data: bytes, url: str, content_type: str | None) -> ParsedFeed:
    data = _without_leading_space(data)
    utf8, detected, encoding_note = _to_utf8(data, content_type)
    try:
        bounded, bound_note = xmlguard.bound(utf8, max_entries=MAX_ENTRIES)
        defused, defuse_note = xmlguard.defuse(bounded)
    except xmlguard.MarkupError as exc:
        raise FeedError(f"not a feed: {exc}") from None
    try:
        parsed = _feedparser(defused)
    except Exception as exc:
        raise FeedError(f"not a feed: the feed parser failed ({type(exc).__name__}: {exc})") from None
    if not parsed.entries and not parsed.version:
        raise FeedError(_not_a_feed(defused, content_type, parsed))
    feed = parsed.feed
    language = _language(feed.get("language"))
    author = _plain(_xml_author(feed), is_html=True) or None
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
        warning=_join_notes(notes),
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
    summary = _richest(
        [_detail_text(c, c.get("value")) for c in entry.get("content") or []]
        + [_detail_text(entry.get("summary_detail"), entry.get("summary"))]
    )
    link = _absolute(entry.get("link"), base_url)
    return FeedEntry(
        guid=_guid(_text(entry.get("id")), link, title, summary),
        url=link,
        title=title,
        summary=summary,
        author=_plain(_xml_author(entry), is_html=True) or feed_author,
        published=_from_struct(dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")),
        language=_entry_language(entry) or feed_language,
        updated=_from_struct(dict.get(entry, "updated_parsed")),
    )


_EMAIL_NAME = re.compile(r"^\s*\S+@\S+\s+\((.+)\)\s*$")


def _xml_author(entry) -> str:
    """The author's name(s); RSS writes 'email (Name)', which feedparser can mangle."""
    names = [_text(a.get("name")) for a in entry.get("authors") or [] if isinstance(a, dict)]
    if len([n for n in names if n]) > 1:
        return ", ".join(n for n in names if n)
    raw = _text(entry.get("author"))
    name = _text((entry.get("author_detail") or {}).get("name"))
    if match := _EMAIL_NAME.match(raw):
        return match.group(1)
    return name if name and name in raw else raw or name


def _entry_language(entry) -> str | None:
    details = [entry.get("title_detail"), entry.get("summary_detail"), *(entry.get("content") or [])]
    for detail in details:
        if detail and _language(detail.get("language")):
            return _language(detail.get("language"))
    return _language(entry.get("language"))


def _detail_text(detail, value) -> str:
    """Plain text of a feedparser text construct (its ``type`` says html or not)."""
    kind = (detail or {}).get("type") or "text/html"
    if not (kind.startswith("text/") or "html" in kind or "xml" in kind):
        return ""  # binary content (base64 images, octet streams)
    return _plain(_text(value), is_html="html" in kind or "xml" in kind)


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


def _cap_note(count: int) -> str | None:
    if count <= MAX_ENTRIES:
        return None
    return f"{count} entries in the document, only the first {MAX_ENTRIES} were kept"


def _not_a_feed(data: bytes, content_type: str | None, parsed) -> str:
    head = data[:_SNIFF].lower()
    if b"<html" in head or b"<!doctype html" in head or "html" in (content_type or "").lower():
        return (
            "not a feed: the document is an HTML page; use the address of the site's "
            'RSS/Atom/JSON feed (look for <link rel="alternate"> in the page)'
        )
    exc = parsed.get("bozo_exception")
    if isinstance(exc, SAXParseException):
        return f"not a feed: {_xml_problem(exc)}"
    root = re.search(rb"<([A-Za-z_][\w:.-]*)", _strip_prologue(data[:_SNIFF]))
    name = root.group(1).decode("ascii", "replace") if root else "?"
    return f"not a feed: the root element <{name}> is not RSS, Atom or RDF"


def _strip_prologue(data: bytes) -> bytes:
    return re.sub(rb"<\?.*?\?>|<!--.*?-->", b"", data, flags=re.S)


# --- JSON Feed 1.0 / 1.1 ----------------------------------------------------


def _looks_like_json(data: bytes, content_type: str | None) -> bool:
    """The first character decides ('{' or '<'); the media type only if neither."""
    head = data[:_SNIFF].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"<"):
        return head[:1] == b"{"
    return "json" in (content_type or "").lower()


def _parse_json_feed(data: bytes, url: str) -> ParsedFeed:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise FeedError(f"not a feed: invalid JSON ({exc})") from None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("items"), list)
        or "jsonfeed.org" not in _text(doc.get("version", "jsonfeed.org"))
    ):
        raise FeedError(
            "not a feed: a JSON document, but not a JSON Feed (it needs "
            '"version": "https://jsonfeed.org/version/1.1" and an "items" list)'
        )
    language = _language(doc.get("language"))
    author = _json_author(doc)
    items = [i for i in doc["items"] if isinstance(i, dict)]
    kept = _within_markup_budget(items[:MAX_ENTRIES])
    entries = [_json_entry(i, url, language, author) for i in kept]
    skipped = len(doc["items"]) - len(items)
    notes = [
        f"{skipped} items that are not JSON objects were skipped" if skipped else None,
        _cap_note(len(items)) or _budget_note(len(kept), len(items)),
    ]
    return ParsedFeed(
        title=_plain(_text(doc.get("title")), is_html=False) or None,
        language=language,
        entries=tuple(entries),
        warning=_join_notes(notes),
    )


def _within_markup_budget(items: list[dict]) -> list[dict]:
    """The first items whose HTML holds at most MAX_JSON_MARKUP tags in all
    (stripping HTML costs time per tag, if far less than feedparser's)."""
    used = 0
    for count, item in enumerate(items):
        used += _text(item.get("content_html")).count("<")
        if used > MAX_JSON_MARKUP:
            if count == 0:
                raise FeedError(
                    f"not a feed: more than {MAX_JSON_MARKUP:,} tags in the first item; "
                    "refusing to parse this much markup"
                )
            return items[:count]
    return items


def _budget_note(kept: int, total: int) -> str | None:
    if kept == total:
        return None
    return f"only the first {kept} of {total} items were read: the rest hold too much markup"


def _json_entry(item: dict, base_url: str, feed_language, feed_author) -> FeedEntry:
    title = _plain(_text(item.get("title")), is_html=False)
    summary = _richest(
        [
            _plain(_text(item.get("content_text")), is_html=False),
            _plain(_text(item.get("content_html")), is_html=True),
            _plain(_text(item.get("summary")), is_html=False),
        ]
    )
    link = _absolute(item.get("url"), base_url) or _absolute(item.get("external_url"), base_url)
    raw_id = item.get("id")
    guid = str(raw_id).strip() if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else ""
    return FeedEntry(
        guid=_guid(guid, link, title, summary),
        url=link,
        title=title,
        summary=summary,
        author=_json_author(item) or feed_author,
        published=_from_iso(item.get("date_published")) or _from_iso(item.get("date_modified")),
        language=_language(item.get("language")) or feed_language,
        updated=_from_iso(item.get("date_modified")),
    )


def _json_author(obj: dict) -> str | None:
    authors = obj.get("authors")
    candidates = authors if isinstance(authors, list) else []
    candidates = [*candidates, obj.get("author")]
    for author in candidates:
        if isinstance(author, dict) and _plain(_text(author.get("name")), is_html=False):
            return _plain(_text(author.get("name")), is_html=False)
    return None


def _from_iso(value) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


# --- shared: text, links, ids, languages ------------------------------------

_HTML_TAG = re.compile(r"</?(p|a|div|br|span|img|b|i|em|strong|ul|li|table|script|style)\b[^<>]*+>", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _plain(value: str | None, *, is_html: bool) -> str:
    """Plain, single-spaced text; HTML is stripped, entities decoded once."""
    if not value:
        return ""
    value = value[:_MAX_TEXT]
    if is_html and ("<" in value or "&" in value):
        value = _strip_html(value)
        if _HTML_TAG.search(value):  # HTML escaped twice (reddit does this)
            value = _strip_html(value)
    elif "&" in value:
        value = html.unescape(value)  # plain text that is escaped once more is common
    return " ".join(_CONTROL.sub("", value).split())


def _strip_html(value: str) -> str:
    return html.unescape(markup.strip_tags(value))


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _richest(candidates: list[str]) -> str:
    return max(candidates, key=len, default="")


def _absolute(link, base_url: str) -> str | None:
    if not isinstance(link, str) or not link.strip():
        return None
    try:
        absolute = urljoin(base_url, link.strip())
        scheme = urlsplit(absolute).scheme
    except ValueError:
        return None
    return absolute if scheme in ("http", "https") else None


def _guid(given: str, link: str | None, title: str, summary: str) -> str:
    """The entry's id, else its link, else a hash of its text; overlong ids are hashed."""
    guid = given.strip() or link or _hash_guid(title, summary)
    return guid if len(guid) <= _MAX_GUID else _hash_guid(guid, "")


def _hash_guid(title: str, summary: str) -> str:
    digest = hashlib.sha256(f"{title}\n{summary}".encode("utf-8", "replace")).hexdigest()
    return f"sha256:{digest[:32]}"


_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")


def _language(value) -> str | None:
    """A BCP 47-looking tag, lower case with '-' ('en-us'), else None."""
    if not isinstance(value, str):
        return None
    tag = value.strip().replace("_", "-").lower()
    return tag if _LANGUAGE.match(tag) else None


def _join_notes(notes: list[str | None]) -> str | None:
    kept = [n for n in notes if n]
    return "; ".join(kept) or None
