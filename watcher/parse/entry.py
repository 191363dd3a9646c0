"""What every parser hands on: ``ParsedFeed`` with its ``FeedEntry``s, and the
helpers that make entries alike whatever the format (plain text, absolute
http(s) links, stable ids, language tags, notes on what was recovered from)."""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from watcher.parse import markup

MAX_ENTRIES = 500  # entries kept per document, first ones first
_MAX_TEXT = 500_000  # characters of one title/summary looked at
_MAX_GUID = 1000  # characters; longer ids are replaced by their hash


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
    reader: str | None = None  # XML feeds: "lxml" (the fast path) or "feedparser"


def cap_note(count: int) -> str | None:
    if count <= MAX_ENTRIES:
        return None
    return f"{count} entries in the document, only the first {MAX_ENTRIES} were kept"


_HTML_TAG = re.compile(r"</?(p|a|div|br|span|img|b|i|em|strong|ul|li|table|script|style)\b[^<>]*+>", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(value: str | None, *, is_html: bool) -> str:
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


def as_text(value) -> str:
    return value if isinstance(value, str) else ""


def richest(candidates: list[str]) -> str:
    return max(candidates, key=len, default="")


def absolute_url(link, base_url: str) -> str | None:
    if not isinstance(link, str) or not link.strip():
        return None
    try:
        absolute = urljoin(base_url, link.strip())
        scheme = urlsplit(absolute).scheme
    except ValueError:
        return None
    return absolute if scheme in ("http", "https") else None


def entry_guid(given: str, link: str | None, title: str, summary: str) -> str:
    """The entry's id, else its link, else a hash of its text; overlong ids are hashed."""
    guid = given.strip() or link or _hash_guid(title, summary)
    return guid if len(guid) <= _MAX_GUID else _hash_guid(guid, "")


def _hash_guid(title: str, summary: str) -> str:
    digest = hashlib.sha256(f"{title}\n{summary}".encode("utf-8", "replace")).hexdigest()
    return f"sha256:{digest[:32]}"


_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")


def language_tag(value) -> str | None:
    """A BCP 47-looking tag, lower case with '-' ('en-us'), else None."""
    if not isinstance(value, str):
        return None
    tag = value.strip().replace("_", "-").lower()
    return tag if _LANGUAGE.match(tag) else None


def join_notes(notes: list[str | None]) -> str | None:
    kept = [n for n in notes if n]
    return "; ".join(kept) or None
