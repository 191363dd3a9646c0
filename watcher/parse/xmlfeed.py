"""The fast path for feeds that parse cleanly: well-formed RSS 2.0 and Atom
1.0 read with lxml, ten times faster than feedparser.

:func:`read` gives what feedparser would have given for the fields the
watcher reads (each entry's title, link, id, summary and content with their
types and languages, authors, published and updated times; the feed's title,
language and author), as plain dictionaries of feedparser's shape, so that
:mod:`watcher.parse.feed` turns both into the same entries the same way. It
follows feedparser's own rules for these fields (which of two descriptions
is the summary, when a ``<guid>`` is the link, how an RSS title that looks
like HTML is read, the cp1252 and double-encoded UTF-8 repairs, ...), using
feedparser's date parser, HTML guess and URI joins, which its caller hands in.

``xml:base`` is tracked as feedparser tracks it (:func:`_bases`) and applied
where feedparser applies it (links, ids that are links, authors' URIs; our
feedparser call leaves URIs inside HTML content alone); Atom's inline XHTML
is written out as feedparser writes it (:meth:`_Reader.xhtml`).

Anything it does not know to read exactly as feedparser does gives None, and
feedparser reads the document: not well-formed, another format or version
(Atom 0.3, RSS 1.0 beside other formats' namespaces), a base attribute in
another namespace or case, XHTML outside Atom, base64 content, an
element feedparser handles that could change these fields but is not read
here (``media:title``, ``itunes:summary``, ``dc:title``, a second title...)
or one in an unexpected place. A test reads every fixture feed both ways and
compares every field.

The one module that imports lxml's XML parser for feeds (``lxml.etree``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape  # as feedparser escapes text inside XHTML

from lxml import etree

from watcher.errors import WatcherError
from watcher.parse.xmlguard import MAX_DEPTH

ATOM = "http://www.w3.org/2005/Atom"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RSS10 = "http://purl.org/rss/1.0/"
_RDF_ABOUT = f"{{{RDF}}}about"
_RSS_VERSIONS = {"2.0": "rss20", "0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
# Namespaces whose declaration sets feedparser's idea of the format.
_OTHER_VERSIONS = {RSS10, "http://my.netscape.com/rdf/simple/0.9/", ATOM}
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_URIFIXER = re.compile("^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")  # feedparser's, as it reads links
_ENTITY_LEFT = re.compile("&([A-Za-z0-9_]+);")
_HTML_TYPES = {"application/xhtml+xml", "text/html"}
_XHTML = "application/xhtml+xml"
_QUOTE = {'"': "&quot;"}  # and double quotes in attribute values (feedparser's strattrs)
_XLINK = "http://www.w3.org/1999/xlink"  # feedparser copies its declarations into XHTML
_CONTENT_TYPES = {"text": "text/plain", "plain": "text/plain", "html": "text/html", "xhtml": _XHTML}
_BASE_KEYS = (_XML_BASE, "base")  # the attributes feedparser takes a base from
# An attribute named base, in any case: searched for in the lowered document
# (a literal is found far sooner than a character class).
_BASE_ATTRIBUTE = re.compile(rb"base\s*=")
_DECLARATION = re.compile(rb"""xmlns:([^\s=<>"']+)\s*=\s*["']([^"']*)["']""")
_C1 = re.compile("[\x80-\x9f]")

# feedparser's element names (its namespace prefix, "_", the local name) read here, by role.
_TITLE = {"title", "dc_title"}
_LINK = {"link"}
_DESCRIPTION = {"description", "media_description", "dc_description"}
_SUMMARY = {"summary", "itunes_summary"}
_CONTENT = {"content", "content_encoded", "fullitem"}
_ID = {"guid", "id"}
_PUBLISHED = {"pubdate", "published", "issued", "dcterms_issued"}
_UPDATED = {"updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"}
_AUTHOR = {"author", "managingeditor", "dc_author", "dc_creator", "itunes_author"}
_AUTHOR_PARTS = {"name", "email", "uri", "url", "homepage"}
_LANGUAGE = {"language", "dc_language"}
# Elements feedparser handles without touching those fields.
_HARMLESS = {
    "category",
    "keywords",
    "tags",
    "enclosure",
    "cloud",
    "generator",
    "webmaster",
    "dc_publisher",
    "rights",
    "copyright",
    "dc_rights",
    "dc_subject",
    "subtitle",
    "tagline",
    "info",
    "feedburner_browserfriendly",
    "created",
    "dcterms_created",
    "dcterms_valid",
    "expirationdate",
    "media_category",
    "media_content",
    "media_credit",
    "media_group",
    "media_keywords",
    "media_license",
    "media_player",
    "media_rating",
    "media_restriction",
    "media_thumbnail",
    "itunes_block",
    "itunes_category",
    "itunes_explicit",
    "itunes_image",
    "itunes_keywords",
    "itunes_link",
    "itunes_subtitle",
    "georss_point",
    "georss_line",
    "georss_polygon",
    "georss_box",
}
_ITEM_READ = (
    _TITLE | _LINK | _DESCRIPTION | _SUMMARY | _CONTENT | _ID | _PUBLISHED | _UPDATED | _AUTHOR | _LANGUAGE
)
_FEED_READ = _TITLE | _LINK | _ID | _PUBLISHED | _UPDATED | _AUTHOR | _LANGUAGE | {"image"}
# Keys of feedparser's result that an element of the same name would overwrite.
_RESERVED = {
    "authors",
    "author_detail",
    "title_detail",
    "summary_detail",
    "content",
    "published_parsed",
    "updated_parsed",
    "guidislink",
    "links",
    "tags",
    "href",
}
# Harmless elements whose children feedparser reads as if they stood in their place.
_CONTAINERS = {"media_group", "media_content"}
_IMAGE_PARTS = {"title", "link", "url", "width", "height", "description"}


# What the byte-level bounds (watcher.parse.xmlguard) count: elements named item or
# entry in any namespace and case (_counts), and whether any element nests past MAX_DEPTH.
_DEEP = "boolean(" + "/*" * (MAX_DEPTH + 1) + ")"
_ELEMENTS = etree.XPath("count(//*)")
# item and entry in every spelling of upper and lower case, in any namespace or none.
_ENTRY_TAGS = tuple(
    "{*}" + "".join(spelling)
    for word in ("item", "entry")
    for spelling in itertools.product(*((letter, letter.upper()) for letter in word))
)


def _counts(root: Any) -> tuple[int, int]:
    """(elements, entries) of the document: XPath's ``count(//*)`` and
    ``count(//*[translate(local-name(), 'ITEMNRY', 'itemnry') = 'item' or
    ... = 'entry'])``, whose translate() over every element cost more than
    parsing the document (lxml matches the spellings in C)."""
    return int(_ELEMENTS(root)), sum(1 for _ in root.iter(*_ENTRY_TAGS))


@dataclass(frozen=True)
class Helpers:
    """What feedparser's home hands over, so both paths read alike."""

    parse_date: Callable[[str], Any]  # a date as feedparser reads it (a struct_time or None)
    urljoin: Callable[[str, str], str]  # feedparser's _urljoin(base, uri)
    safe_join: Callable[[str, str], str]  # feedparser's make_safe_absolute_uri(base, uri)
    looks_like_html: Callable[[str], bool]  # feedparser's guess for RSS text that may be HTML
    cp1252: Mapping[int, str]  # feedparser's repair of C1 control characters
    handled: frozenset[str]  # the element names feedparser has a handler for
    prefixes: Mapping[str, str]  # namespace URI (lower case) -> feedparser's prefix


class NotHere(WatcherError):
    """This document is for feedparser (never leaves this module)."""


_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def read(data: bytes, helpers: Helpers, fits: Callable[..., bool] = lambda **shape: True) -> dict | None:
    """feedparser's result for the fields the watcher reads ({"feed", "entries",
    "version"}), or None when feedparser must read ``data`` itself. ``fits``
    is asked first, with the document's shape (``elements``, ``entries``,
    ``deep``: see :func:`watcher.parse.xmlguard.untouched`), whether the
    document may be read whole."""
    try:
        root = etree.fromstring(data, _PARSER)
        declared: dict[bytes, set[bytes]] = {}
        for prefix, uri in _DECLARATION.findall(data):
            declared.setdefault(prefix, set()).add(uri.lower())
        elements, entries = _counts(root)
        shape = {"elements": elements, "entries": entries, "deep": bool(root.xpath(_DEEP))}
        if not fits(**shape):
            return None
        reader = _Reader(helpers)
        reader.ambiguous = {p.decode("utf-8", "replace") for p, uris in declared.items() if len(uris) > 1}
        if _BASE_ATTRIBUTE.search(data.lower()):
            reader.bases = _bases(root, helpers)
        return reader.document(root)
    except (etree.XMLSyntaxError, NotHere, ValueError):
        return None


class _Entry:
    """An entry being read: feedparser's fields, and its bookkeeping of them."""

    def __init__(self) -> None:
        self.entry: dict[str, Any] = {}
        self.depths: dict[str, int] = {}  # the depth each field was last kept at
        self.title_depth = -1  # the depth of the first non-empty title (-1: none yet)
        self.has_content = False


class _Reader:
    def __init__(self, helpers: Helpers) -> None:
        self.h = helpers
        self.atom = False
        self.rss10 = False
        self.ambiguous: set[str] = set()  # prefixes the document declares for several namespaces
        self._names: dict[tuple[str, str | None], str] = {}
        # The base URI feedparser resolves against inside each element (None: no
        # xml:base in the document, every base is empty).
        self.bases: dict[Any, str] | None = None

    def resolve(self, el: Any, uri: str) -> str:
        """feedparser's resolve_uri inside ``el``."""
        if self.bases is None:
            return _fold_slashes(uri)  # _urljoin against no base
        return self.h.urljoin(self.bases[el], uri)

    # -- names -----------------------------------------------------------------
    def name(self, el: Any) -> str:
        """feedparser's name for an element ("title", "dc_creator", ...)."""
        if not isinstance(el.tag, str):
            raise NotHere  # an entity reference or other oddity
        key = (el.tag, el.prefix)
        found = self._names.get(key)
        if found is None:
            namespace, _, local = el.tag[1:].rpartition("}") if el.tag[0] == "{" else ("", "", el.tag)
            lowered = namespace.lower()
            if "backend.userland.com/rss" in lowered:
                lowered = "http://backend.userland.com/rss"
            prefix = self.h.prefixes.get(lowered)
            if prefix is None:  # feedparser goes by the prefix the document gives it
                if el.prefix in self.ambiguous:
                    raise NotHere  # one prefix, several namespaces: feedparser mixes them up
                prefix = el.prefix or ""
            local = local.lower()
            found = self._names[key] = f"{prefix.lower()}_{local}" if prefix else local
        return found

    def elements(self, el: Any) -> list[Any]:
        """``el``'s child elements (comments and processing instructions are gone)."""
        return [c for c in el if isinstance(c.tag, str) or _not_here()]

    # -- the document ------------------------------------------------------------
    def document(self, root: Any) -> dict:
        feed: dict[str, Any] = {}
        entries: list[dict] = []
        lang = _lang(root, None)
        if root.tag == "rss" and root.get("version") in _RSS_VERSIONS:
            channels = self.elements(root)
            if len(channels) != 1 or channels[0].tag != "channel":
                raise NotHere
            if lang:
                feed["language"] = lang.replace("_", "-")
            self.channel(feed, entries, channels[0], _lang(channels[0], lang))
            version = _RSS_VERSIONS[root.get("version")]
        elif root.tag == f"{{{ATOM}}}feed" and root.nsmap.get(None) == ATOM and root.get("version") is None:
            if set(root.nsmap.values()) & (_OTHER_VERSIONS - {ATOM}):
                raise NotHere
            self.atom = True
            if lang:
                feed["language"] = lang.replace("_", "-")
            self.channel(feed, entries, root, lang)
            version = "atom10"
        elif root.tag == f"{{{RDF}}}RDF" and root.nsmap.get(None) == RSS10:
            if set(root.nsmap.values()) & (_OTHER_VERSIONS - {RSS10}):
                raise NotHere
            self.rdf(feed, entries, root, lang)  # feedparser takes no language from rdf:RDF itself
            version = "rss10"
        else:
            raise NotHere
        return {"feed": feed, "entries": entries, "version": version, "bozo": False}

    def channel(self, feed: dict, entries: list[dict], channel: Any, lang: str | None) -> None:
        """An RSS channel or an Atom feed: its title, language and author, and its entries."""
        _no_cdf(channel)
        titled, summaries = False, 0
        for el in self.elements(channel):
            name = self.name(el)
            if name == ("entry" if self.atom else "item") and not self.rss10:
                entries.append(self.entry(el, _lang(el, lang)))
                titled = False
            elif name in _TITLE:
                if not titled:  # after a title, feedparser skips the next (until an item or image)
                    titled = bool(self.text_construct(feed, el, "title", _lang(el, lang), "text/plain"))
                else:
                    self.check_leaf(el)
            elif name in _LANGUAGE:
                self.check_leaf(el)
                feed["language"] = self.value(el, name)
            elif name in _AUTHOR:
                self.author(feed, el, _lang(el, lang))
            elif name in _DESCRIPTION or name in _SUMMARY or name in _CONTENT:
                summaries += 1  # a second one would be content, and count in the first item
                if summaries > 1 or name in _CONTENT:
                    raise NotHere
                self.check_leaf(el)
            elif name in ("image", "textinput") and not self.atom:
                self.check_parts(el)
                titled = False
            elif name in _FEED_READ or name in _HARMLESS:
                self.check_quiet(el)
            else:
                self.check_unknown(el)

    def rdf(self, feed: dict, entries: list[dict], root: Any, lang: str | None) -> None:
        """RSS 1.0: the channel, and the items beside it."""
        self.rss10 = True
        channel = None
        for el in self.elements(root):
            name = self.name(el)
            if name == "channel" and channel is None:
                channel = el
                self.channel(feed, entries, el, _lang(el, lang))
            elif name == "item":
                entries.append(self.entry(el, _lang(el, lang), el.get(_RDF_ABOUT)))
            elif name in ("image", "textinput"):
                if self.check_parts(el) and channel is None:
                    raise NotHere  # its title would hide the channel's (feedparser's depth rule)
            else:
                self.check_unknown(el)

    def check_parts(self, el: Any) -> bool:
        """An image or text input: only its usual parts, all text. Whether it has a title."""
        titled = False
        for part in self.elements(el):
            name = self.name(part)
            if name not in _IMAGE_PARTS or len(part):
                raise NotHere
            titled = titled or (name == "title" and bool((part.text or "").strip()))
        return titled

    def entry(self, item: Any, lang: str | None, about: str | None = None) -> dict:
        """One item or entry, its elements taken in document order at their depth
        (feedparser keeps the shallower of two values of one field)."""
        _no_cdf(item)
        state = _Entry()
        if about:
            state.entry["id"] = about  # RSS 1.0's rdf:about, as it stands
        self.walk(state, item, lang, 0)
        return state.entry

    def walk(self, state: _Entry, parent: Any, lang: str | None, depth: int) -> None:
        entry = state.entry
        for el in self.elements(parent):
            name = self.name(el)
            here = _lang(el, lang)
            if name in _TITLE or name == "media_title":
                self.check_text(el)
                if -1 < state.title_depth <= depth + 1:
                    continue  # feedparser keeps the first title
                value = self.text_construct(state, el, "title", here, "text/plain", depth + 1)
                if value and name != "media_title":
                    state.title_depth = depth + 1
            elif name in _DESCRIPTION or name in _SUMMARY:
                self.check_text(el)
                if "summary" in entry and not state.has_content:  # a second one is content
                    state.has_content = True
                    self.content(entry, el, here, "text/plain")
                else:
                    default = "text/html" if name in _DESCRIPTION else "text/plain"
                    self.text_construct(state, el, "summary", here, default, depth + 1)
            elif name in _CONTENT:
                self.check_text(el)
                state.has_content = True
                self.content(entry, el, here, "text/plain" if name == "content" else "text/html")
            elif depth:  # the rest only counts as a child of the item itself
                self.harmless(state, el, name, here, depth)
            elif name in _LINK:
                self.link(entry, el)
            elif name in _ID:
                self.check_leaf(el)
                attrs = {k.lower(): v for k, v in el.attrib.items()}
                guidislink = attrs.get("ispermalink", "true") == "true"
                value = self.value(el, "id", resolve=guidislink)
                entry["id"] = value
                entry.setdefault("guidislink", guidislink and "link" not in entry)
                if guidislink:
                    entry.setdefault("link", value)
            elif name in _PUBLISHED:
                self.check_leaf(el)
                entry["published_parsed"] = self.h.parse_date(self.value(el, "published"))
            elif name in _UPDATED:
                self.check_leaf(el)
                entry["updated_parsed"] = self.h.parse_date(self.value(el, "updated"))
            elif name in _AUTHOR:
                self.author(entry, el, here)
            elif name in _LANGUAGE:
                self.check_leaf(el)
                entry["language"] = self.value(el, "language")
            elif name == "source" and not self.atom:
                self.check_leaf(el)
                state.title_depth = -1
            else:
                self.harmless(state, el, name, here, depth)

    def harmless(self, state: _Entry, el: Any, name: str, lang: str | None, depth: int) -> None:
        """An element that does not touch the fields read: nothing to do, but what
        is inside it may (media:title and media:description in a media:group)."""
        if name in _RESERVED or (name in self.h.handled and name not in _HARMLESS):
            raise NotHere
        if name not in _CONTAINERS and name in self.h.handled:
            self.check_quiet(el)
        elif len(el):
            self.walk(state, el, lang, depth + 1)

    def check_leaf(self, el: Any) -> None:
        if len(el):
            raise NotHere  # markup inside

    def check_text(self, el: Any) -> None:
        """A text construct: a leaf, or Atom's inline XHTML."""
        if len(el) and not (self.atom and self.content_type(el, "text/plain") == _XHTML):
            raise NotHere

    def check_quiet(self, el: Any) -> None:
        """A harmless element: nothing under it may be one that is not."""
        for sub in el.iter():
            if sub is not el and self.name(sub) in self.h.handled and self.name(sub) not in _HARMLESS:
                raise NotHere

    def check_unknown(self, el: Any) -> None:
        """An element feedparser has no handler for is ignored, with all under it
        (unless something under it has a handler, or its name is one of the keys read)."""
        for sub in el.iter():
            if self.name(sub) in self.h.handled or self.name(sub) in _RESERVED:
                raise NotHere

    def text_construct(
        self, state: _Entry | dict, el: Any, key: str, lang: str | None, default: str, depth: int = 0
    ) -> str:
        """A title or summary: ``key`` (kept only when no shallower one was) and
        ``key_detail`` (always replaced, as feedparser does); its value."""
        self.check_text(el)
        kind = self.content_type(el, default)
        value = self.xhtml(el) if kind == _XHTML and self.atom else self.value(el, key)
        if kind == "text/plain" and not self.atom and self.h.looks_like_html(value):
            kind = "text/html"
        if isinstance(state, dict):
            context = state
        else:
            context = state.entry
            old = state.depths.get(key)
            if old is not None and depth > old:
                context[f"{key}_detail"] = {"type": kind, "language": _language(lang), "value": value}
                return value
            state.depths[key] = depth
        context[key] = value
        context[f"{key}_detail"] = {"type": kind, "language": _language(lang), "value": value}
        return value

    def content(self, entry: dict, el: Any, lang: str | None, default: str) -> None:
        self.check_text(el)
        kind = self.content_type(el, default)
        value = self.xhtml(el) if kind == _XHTML and self.atom else self.value(el, "content")
        if kind == "text/plain" and not self.atom and self.h.looks_like_html(value):
            kind = "text/html"
        entry.setdefault("content", []).append({"type": kind, "language": _language(lang), "value": value})
        if kind == "text/plain" or kind in _HTML_TYPES:
            entry.setdefault("summary", value)

    def content_type(self, el: Any, default: str) -> str:
        for key in el.attrib:
            if key not in ("type", "mode") and key.rpartition("}")[2].lower() in ("type", "mode"):
                raise NotHere  # feedparser lowers names and drops unknown namespaces: its type
        given = el.get("type")
        kind = (default if given is None else given).lower()  # type="" is feedparser's "" too
        kind = _CONTENT_TYPES.get(kind, kind)
        if el.get("mode") is not None or not (kind.startswith("text/") or (kind == _XHTML and self.atom)):
            raise NotHere  # base64, XHTML outside Atom or another media type
        return kind

    def xhtml(self, el: Any) -> str:
        """Atom's inline XHTML as feedparser writes it out: tags and attributes
        (names in lower case, rel and type values too) rebuilt, text escaped,
        one enclosing ``<div>`` taken off."""
        pieces: list[str] = []
        if el.text:
            pieces.append(escape(el.text))
        for child in el:
            self.markup(child, pieces)
        while len(pieces) > 1 and not pieces[-1].strip():
            del pieces[-1]
        while len(pieces) > 1 and not pieces[0].strip():
            del pieces[0]
        if pieces and (pieces[0] == "<div>" or pieces[0].startswith("<div ")) and pieces[-1] == "</div>":
            depth = 0
            for piece in pieces[:-1]:
                if piece.startswith("</"):
                    depth -= 1
                    if depth == 0:
                        break
                elif piece.startswith("<") and not piece.endswith("/>"):
                    depth += 1
            else:
                pieces = pieces[1:-1]
        return self.repaired("".join(pieces).strip())

    def markup(self, el: Any, pieces: list[str]) -> None:
        if not isinstance(el.tag, str):
            raise NotHere  # an entity reference
        local = el.tag.rpartition("}")[2].lower()
        if local in ("svg", "math") or _XLINK in el.nsmap.values():
            raise NotHere  # feedparser adds their namespaces and reads titles inside SVG
        attrs: dict[str, str] = {}
        for key, value in el.attrib.items():
            lowered = key.lower()
            if key[0] == "{" or lowered in attrs:
                raise NotHere  # namespaced attributes, or two that feedparser makes one
            attrs[lowered] = value.lower() if lowered in ("rel", "type") else value
        pieces.append("<" + local + "".join(f' {k}="{escape(v, _QUOTE)}"' for k, v in attrs.items()) + ">")
        if el.text:
            pieces.append(escape(el.text))
        for child in el:
            self.markup(child, pieces)
        pieces.append(f"</{local}>")
        if el.tail:
            pieces.append(escape(el.tail))

    def link(self, entry: dict, el: Any) -> None:
        self.check_leaf(el)
        attrs = {k.lower(): v for k, v in el.attrib.items() if k not in _BASE_KEYS}
        href = attrs.get("url", attrs.get("uri", attrs.get("href")))
        if href:
            rel = attrs.get("rel", "alternate").lower()
            kind = attrs.get("type", "application/atom+xml" if rel == "self" else "text/html").lower()
            kind = {"html": "text/html", "xhtml": "application/xhtml+xml"}.get(kind, kind)
            if rel == "alternate" and kind in _HTML_TYPES:
                entry["link"] = self.resolve(el, href)
        elif not ({"url", "uri", "href"} & set(attrs)) and set(attrs) <= {"rel", "type"}:
            value = self.value(el, "link").replace("&amp;", "&")
            entry["link"] = _ENTITY_LEFT.sub(r"&\g<1>", value)
        else:
            raise NotHere

    def author(self, context: dict, el: Any, lang: str | None) -> None:
        """feedparser's _start_author / _end_author, and its name/email/uri children."""
        authors = context.setdefault("authors", [])
        authors.append({})
        for part in self.elements(el):
            name = self.name(part)
            if name not in _AUTHOR_PARTS:
                if name in self.h.handled or name in _RESERVED or len(part) or (part.text or "").strip():
                    raise NotHere
                continue  # an empty element of its own (Blogger's gd:image)
            if len(part):
                raise NotHere
            if name in ("name", "email"):
                value = (part.text or "").strip()
            else:
                value = self.value(part, "href")
            key = "href" if name in ("uri", "url", "homepage") else name
            context.setdefault("author_detail", {})[key] = value
            _sync_author(context)
            context.setdefault("authors", [{}])[-1][key] = value
        context["author"] = self.value(el, "author", own=True)
        _sync_author(context)

    def value(self, el: Any, element: str, *, resolve: bool = True, own: bool = False) -> str:
        """The text of a leaf as feedparser's pop() leaves it."""
        if own:  # only the element's own text, between its children
            text = (el.text or "") + "".join(c.tail or "" for c in el)
        else:
            text = el.text or ""
        output = text.strip()
        if resolve and output and element in ("link", "id", "href"):
            output = self.resolve(el, output)
        return self.repaired(output)

    def repaired(self, output: str) -> str:
        """feedparser's repairs of a value: UTF-8 read as Latin-1, C1 controls as cp1252."""
        if output.isascii():
            return output  # nothing to repair
        try:
            output = output.encode("iso-8859-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
        return output.translate(self.h.cp1252) if _C1.search(output) else output


def _sync_author(context: dict) -> None:
    """feedparser's _sync_author_detail."""
    detail = context.get("authors", [{}])[-1]
    if detail:
        name, email = detail.get("name"), detail.get("email")
        if name and email:
            context["author"] = f"{name} ({email})"
        elif name:
            context["author"] = name
        elif email:
            context["author"] = email
        return
    author, email = context.get("author"), None
    if not author:
        return
    found = _EMAIL.search(author)
    if found:
        email = found.group(0)
        author = author.replace(email, "").replace("()", "").replace("<>", "").replace("&lt;&gt;", "").strip()
        if author and author[0] == "(":
            author = author[1:]
        if author and author[-1] == ")":
            author = author[:-1]
        author = author.strip()
    if author or email:
        context.setdefault("author_detail", detail)
    if author:
        detail["name"] = author
    if email:
        detail["email"] = email


_EMAIL = re.compile(
    r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"""
)


def _fold_slashes(uri: str) -> str:
    """feedparser's ``_urifixer.sub(r"\\1\\3", uri)`` (the slashes after ``scheme://``
    taken out), without expanding the template for every link."""
    if "://" not in uri:
        return uri
    found = _URIFIXER.match(uri)
    return found[1] + uri[found.end(2) :] if found and found[2] else uri


def _own_base(el: Any) -> str | None:
    """What feedparser takes as ``el``'s own base: ``xml:base``, else a plain ``base``."""
    xml = plain = None
    for key, value in el.attrib.items():
        if key.rpartition("}")[2].lower() == "base":
            if key == _XML_BASE:
                xml = value
            elif key == "base":
                plain = value
            else:
                raise NotHere  # another namespace or case: feedparser's reading differs
    return xml if xml is not None else plain


def _bases(root: Any, helpers: Helpers) -> dict[Any, str]:
    """The base URI in force inside every element, as feedparser tracks it: an
    element's base is its own (joined to the one around it) or the one around
    it; feedparser is handed no document URL, and on leaving an element goes
    back to the base around it only if that one is not empty, so a base set
    inside an element without one stays in force after it (reddit's
    ``<content xml:base="/.rss">`` is the base of the entry's ``<id>`` after it)."""
    bases: dict[Any, str] = {}
    stack: list[str] = []
    base = ""
    joined: dict[tuple[str, str], str] = {}  # the joins are pure: each pair once
    for event, el in etree.iterwalk(root, events=("start", "end")):
        if event == "start":
            if not isinstance(el.tag, str):
                raise NotHere
            given = _own_base(el) or base
            key = (base, given)
            found = joined.get(key)
            if found is None:
                found = (helpers.safe_join(base, given) or base) if base else helpers.urljoin(base, given)
                joined[key] = found
            base = found
            stack.append(base)
            bases[el] = base
        else:
            stack.pop()
            if stack and stack[-1]:
                base = stack[-1]
    return bases


def _no_cdf(el: Any) -> None:
    """feedparser reads a ``lastmod`` or ``href`` attribute of a channel or item as its updated time or link."""
    if any(key.lower() in ("lastmod", "href") for key in el.attrib):
        raise NotHere


def _own_lang(el: Any) -> str | None:
    value = el.get(_XML_LANG)
    return value if value is not None else el.get("lang")


def _lang(el: Any, inherited: str | None) -> str | None:
    """The language in force inside ``el`` (feedparser's langstack)."""
    own = _own_lang(el)
    if own is None:
        return inherited
    return own or None


def _language(lang: str | None) -> str | None:
    return lang.replace("_", "-") if lang else lang


def _not_here() -> bool:
    raise NotHere
