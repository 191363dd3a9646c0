"""JSON Feed 1.0 / 1.1 (https://jsonfeed.org): the items of a JSON document,
within a markup budget, as ``FeedEntry``s."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from watcher.errors import FeedError
from watcher.parse.entry import (
    MAX_ENTRIES,
    FeedEntry,
    ParsedFeed,
    absolute_url,
    as_text,
    cap_note,
    entry_guid,
    join_notes,
    language_tag,
    plain_text,
    richest,
)

SNIFF = 2048  # bytes looked at to recognise JSON or HTML
MAX_JSON_MARKUP = 200_000  # tags in the HTML of the JSON items kept (stripped in linear time by markup.py)


def looks_like_json(data: bytes, content_type: str | None) -> bool:
    """The first character decides ('{' or '<'); the media type only if neither."""
    head = data[:SNIFF].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"<"):
        return head[:1] == b"{"
    return "json" in (content_type or "").lower()


def parse_json_feed(data: bytes, url: str) -> ParsedFeed:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise FeedError(f"not a feed: invalid JSON ({exc})") from None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("items"), list)
        or "jsonfeed.org" not in as_text(doc.get("version", "jsonfeed.org"))
    ):
        raise FeedError(
            "not a feed: a JSON document, but not a JSON Feed (it needs "
            '"version": "https://jsonfeed.org/version/1.1" and an "items" list)'
        )
    language = language_tag(doc.get("language"))
    author = _json_author(doc)
    items = [i for i in doc["items"] if isinstance(i, dict)]
    kept = _within_markup_budget(items[:MAX_ENTRIES])
    entries = [_json_entry(i, url, language, author) for i in kept]
    skipped = len(doc["items"]) - len(items)
    notes = [
        f"{skipped} items that are not JSON objects were skipped" if skipped else None,
        cap_note(len(items)) or _budget_note(len(kept), len(items)),
    ]
    return ParsedFeed(
        title=plain_text(as_text(doc.get("title")), is_html=False) or None,
        language=language,
        entries=tuple(entries),
        warning=join_notes(notes),
    )


def _within_markup_budget(items: list[dict]) -> list[dict]:
    """The first items whose HTML holds at most MAX_JSON_MARKUP tags in all
    (stripping HTML costs time per tag, if far less than feedparser's)."""
    used = 0
    for count, item in enumerate(items):
        used += as_text(item.get("content_html")).count("<")
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
    title = plain_text(as_text(item.get("title")), is_html=False)
    summary = richest(
        [
            plain_text(as_text(item.get("content_text")), is_html=False),
            plain_text(as_text(item.get("content_html")), is_html=True),
            plain_text(as_text(item.get("summary")), is_html=False),
        ]
    )
    link = absolute_url(item.get("url"), base_url) or absolute_url(item.get("external_url"), base_url)
    raw_id = item.get("id")
    guid = str(raw_id).strip() if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else ""
    return FeedEntry(
        guid=entry_guid(guid, link, title, summary),
        url=link,
        title=title,
        summary=summary,
        author=_json_author(item) or feed_author,
        published=_from_iso(item.get("date_published")) or _from_iso(item.get("date_modified")),
        language=language_tag(item.get("language")) or feed_language,
        updated=_from_iso(item.get("date_modified")),
    )


def _json_author(obj: dict) -> str | None:
    authors = obj.get("authors")
    candidates = authors if isinstance(authors, list) else []
    candidates = [*candidates, obj.get("author")]
    for author in candidates:
        if isinstance(author, dict) and plain_text(as_text(author.get("name")), is_html=False):
            return plain_text(as_text(author.get("name")), is_html=False)
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
