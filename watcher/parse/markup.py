"""Markup: HTML to plain text in linear time.

Regular expressions that each scan a character once: the stdlib's
``html.parser.HTMLParser`` is quadratic on malformed input (``<!--`` x
100,000 takes minutes), and feed content and stray pages are exactly where
malformed HTML lives.
"""

from __future__ import annotations

import html
import re

_MARKUP = re.compile(
    r"<!--.*?(?:-->|\Z)"  # comment, maybe unclosed
    r"|<(script|style|noscript|template)\b[^<>]*+>.*?(?:</\1\s*>|\Z)"  # invisible element
    r"|</?([A-Za-z][^\s/<>]*+)[^<>]*+>"  # any other tag
    r"|<[!?][^<>]*+>",  # declaration, PI, CDATA
    re.S | re.I,
)
_INLINE = {
    "a",
    "abbr",
    "b",
    "bdi",
    "bdo",
    "cite",
    "code",
    "data",
    "dfn",
    "em",
    "font",
    "i",
    "kbd",
    "mark",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "time",
    "u",
    "var",
}
_BLOCK = {
    "p",
    "div",
    "br",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "section",
    "article",
    "header",
    "footer",
    "blockquote",
    "pre",
    "title",
    "main",
    "nav",
    "aside",
    "td",
}
_TITLE = re.compile(r"<title\b[^<>]*+>(.*?)</title\s*>", re.S | re.I)


def strip_tags(value: str) -> str:
    """Markup removed (entities left as they are): inline tags vanish, others become a space."""
    return _MARKUP.sub(_space, value)


def visible_text(page: str) -> tuple[str, str]:
    """(title, text) of a page: block elements become line breaks, entities are decoded."""
    found = _TITLE.search(page)
    title = " ".join(html.unescape(strip_tags(found.group(1))).split()) if found else ""
    text = html.unescape(_MARKUP.sub(_line, _TITLE.sub("\n", page)))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return title, "\n".join(line for line in lines if line)


# The inline tags as they are commonly written (others are lowered first).
_INLINE_SPELT = _INLINE | {name.upper() for name in _INLINE}


def _space(match: re.Match) -> str:
    name = match[2]
    return "" if name in _INLINE_SPELT or (name and name.lower() in _INLINE) else " "


def _line(match: re.Match) -> str:
    name = (match.group(2) or "").lower()
    return "\n" if name in _BLOCK else _space(match)
