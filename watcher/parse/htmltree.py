"""HTML pages as trees: the only module that imports ``lxml`` (and ``cssselect``).

The parsers of Telegram previews, index pages and feed discovery read pages
through :class:`Node`, never through lxml's own types, and lxml's errors
become :class:`MarkupError`. libxml2's HTML parser is linear in the input and
recovers from broken markup the way browsers roughly do; what it is given is
bounded here (``MAX_BYTES``), and callers bound how many nodes they look at.

Bytes are decoded here, once: the charset of the Content-Type header, else a
byte-order mark, else ``<meta charset>`` in the first bytes, else UTF-8
(libxml2's own default would be Latin-1), with undecodable bytes replaced.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import Any

import lxml.etree
import lxml.html
from cssselect import SelectorError
from lxml.cssselect import CSSSelector

from watcher.errors import WatcherError

MAX_BYTES = 16 * 1024 * 1024  # a page is cut here before parsing
_SNIFF = 4096
_BREAKS = {"br"}
_BLOCKS = {
    "p",
    "div",
    "li",
    "tr",
    "blockquote",
    "pre",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
}


class MarkupError(WatcherError):
    """The bytes could not be read as an HTML page; the message says why."""


_BY_CLASS = lxml.etree.XPath("descendant-or-self::*[contains(concat(' ', normalize-space(@class), ' '), $c)]")


class Node:
    """One element of a parsed page (a thin view; never holds lxml types outside)."""

    __slots__ = ("_el",)

    def __init__(self, element: Any) -> None:
        self._el = element

    @property
    def tag(self) -> str:
        tag = self._el.tag
        return tag.lower() if isinstance(tag, str) else ""

    def attr(self, name: str) -> str | None:
        value = self._el.get(name)
        return value if isinstance(value, str) else None

    @property
    def classes(self) -> frozenset[str]:
        return frozenset((self.attr("class") or "").split())

    def has_class(self, name: str) -> bool:
        return name in self.classes

    def iter(self, *tags: str) -> Iterator[Node]:
        """This element and its descendants (only ``tags`` if given), in document order."""
        for el in self._el.iter(*tags) if tags else self._el.iter():
            if isinstance(el.tag, str):
                yield Node(el)

    def by_class(self, name: str) -> Iterator[Node]:
        """Descendants (and self) whose class list contains ``name``, in document order."""
        for el in _BY_CLASS(self._el, c=f" {name} "):
            yield Node(el)

    def class_index(self) -> dict[str, list[Node]]:
        """Every class name in this subtree (self included) -> its elements, in document order."""
        index: dict[str, list[Node]] = {}
        for el in self._el.iter():
            for name in (el.get("class") or "").split() if isinstance(el.tag, str) else ():
                index.setdefault(name, []).append(Node(el))
        return index

    def first_by_class(self, name: str) -> Node | None:
        return next(self.by_class(name), None)

    def within_class(self, name: str) -> bool:
        """Whether an ancestor's class list contains ``name``."""
        return any(name in (el.get("class") or "").split() for el in self._el.iterancestors())

    def text(self) -> str:
        """The element's text, single-spaced (entities decoded)."""
        return " ".join(self._el.text_content().split())

    def lines(self) -> str:
        """The element's text with ``<br>`` and block ends as line breaks, spaces squeezed."""
        parts: list[str] = []
        self._collect(self._el, parts)
        lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
        return "\n".join(line for line in lines if line)

    @staticmethod
    def _collect(root: Any, parts: list[str]) -> None:
        # Iterative walk: deeply nested pages must not exhaust the Python stack.
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            el, closing = stack.pop()
            tag = el.tag.lower() if isinstance(el.tag, str) else ""
            if closing:
                if tag in _BLOCKS:
                    parts.append("\n")
                if el is not root and el.tail:
                    parts.append(el.tail)
                continue
            if tag in ("script", "style", "template", ""):
                if el is not root and el.tail:
                    parts.append(el.tail)
                continue
            if tag in _BREAKS:
                parts.append("\n")
            elif el.text:
                parts.append(el.text)
            stack.append((el, True))
            stack.extend((child, False) for child in reversed(el))

    def select(self, selector: Selector) -> list[Node]:
        """Descendants matching a compiled CSS selector, in document order."""
        return [Node(el) for el in selector.matcher(self._el) if isinstance(el.tag, str)]

    def __repr__(self) -> str:
        return f"<Node {self.tag} class={self.attr('class')!r}>"


class Selector:
    """A compiled CSS selector (``compile_selector``)."""

    __slots__ = ("matcher", "text")

    def __init__(self, text: str, matcher: Any) -> None:
        self.text = text
        self.matcher = matcher


def compile_selector(text: str) -> Selector:
    """A CSS selector, or ValueError saying what is wrong with it."""
    try:
        return Selector(text, CSSSelector(text))
    except (SelectorError, lxml.etree.XPathError, ValueError) as exc:
        raise ValueError(f"not a CSS selector lxml can use: {text!r} ({exc})") from None


def parse_html(data: bytes, *, content_type: str | None = None) -> Node:
    """The page's root element (``<html>``)."""
    if not data.strip():
        raise MarkupError("empty document: the server sent no content")
    text = decode(data[:MAX_BYTES], content_type)
    try:
        root = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise MarkupError(f"not an HTML page lxml can read ({exc})") from None
    return Node(root)


_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""",
    re.IGNORECASE,
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode(data: bytes, content_type: str | None = None) -> str:
    """The page as text: header charset, BOM, ``<meta charset>``, else UTF-8."""
    candidates = []
    for bom, name in _BOMS:
        if data.startswith(bom):
            candidates.append(name)
    if found := _HEADER_CHARSET.search(content_type or ""):
        candidates.append(found.group(1))
    if meta := _META_CHARSET.search(data[:_SNIFF]):
        candidates.append(meta.group(1).decode("ascii"))
    for name in [*candidates, "utf-8"]:
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            continue
        if codec in ("utf-16", "utf-16-le", "utf-16-be") and not data.startswith(
            (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
        ):
            continue  # a page that claims UTF-16 but has no BOM: ASCII-compatible bytes
        text = data.decode(codec, errors="replace")
        return text.removeprefix("\ufeff")
    return data.decode("utf-8", errors="replace")
