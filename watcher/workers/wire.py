"""What crosses the queue, as JSON: fetch orders one way, plain results the
other (``watcher.pipeline.reader``'s dataclasses). No database row, no
pickle: a value that does not read back is refused (``WireError``), never
executed."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from watcher.errors import WatcherError
from watcher.parse.feed import FeedEntry, ParsedFeed
from watcher.pipeline.reader import FeedOrder, FeedRead, PageOrder, PageRead

FEED, PAGE = "feed", "page"


class WireError(WatcherError):
    """A message from the queue that is not what this watcher sends."""


def order(kind: str, value: FeedOrder | PageOrder) -> dict[str, Any]:
    return asdict(value)


def read_order(kind: str, data: dict[str, Any]) -> FeedOrder | PageOrder:
    try:
        if kind == FEED:
            return FeedOrder(
                str(data["url"]),
                _opt_str(data["etag"]),
                _opt_str(data["last_modified"]),
                float(data["seconds"]),
            )
        if kind == PAGE:
            return PageOrder(str(data["url"]), float(data["seconds"]), bool(data.get("metadata", True)))
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"a {kind} order that does not read: {exc}") from None
    raise WireError(f"an order of unknown kind {kind!r}")


def result(value: FeedRead | PageRead) -> dict[str, Any]:
    if isinstance(value, PageRead):
        # the plain values only: the text's folding (a Normalised) is folded again on the other side
        plain = {k: v for k, v in value.derived.items() if isinstance(v, (str, int, type(None)))}
        return {**asdict(replace(value, derived={})), "derived": plain}
    data = asdict(value)
    if value.feed is not None:
        data["feed"] = {
            "title": value.feed.title,
            "language": value.feed.language,
            "warning": value.feed.warning,
            "entries": [_entry(e) for e in value.feed.entries],
        }
    return data


def read_result(kind: str, data: dict[str, Any]) -> FeedRead | PageRead:
    try:
        if kind == PAGE:
            derived = data.get("derived") or {}
            return PageRead(
                url=str(data["url"]),
                text=str(data["text"]),
                title=_opt_str(data["title"]),
                author=_opt_str(data["author"]),
                published=_opt_str(data["published"]),
                language=_opt_str(data["language"]),
                derived={str(k): v for k, v in derived.items() if isinstance(v, (str, int, type(None)))},
                error=_opt_str(data["error"]),
                timeout=bool(data["timeout"]),
                missing=bool(data["missing"]),
            )
        if kind == FEED:
            feed = data.get("feed")
            return FeedRead(
                url=str(data["url"]),
                status=int(data["status"]),
                error=_opt_str(data["error"]),
                timeout=bool(data["timeout"]),
                etag=_opt_str(data["etag"]),
                last_modified=_opt_str(data["last_modified"]),
                retry_after=None if data["retry_after"] is None else float(data["retry_after"]),
                feed=None
                if feed is None
                else ParsedFeed(
                    title=_opt_str(feed["title"]),
                    language=_opt_str(feed["language"]),
                    entries=tuple(_read_entry(e) for e in feed["entries"]),
                    warning=_opt_str(feed["warning"]),
                ),
                text_only=tuple(str(g) for g in data.get("text_only") or ()),
                validators=bool(data.get("validators", True)),
            )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise WireError(f"a {kind} result that does not read: {type(exc).__name__}: {exc}") from None
    raise WireError(f"a result of unknown kind {kind!r}")


def _entry(entry: FeedEntry) -> dict[str, Any]:
    return {
        **asdict(entry),
        "published": entry.published.isoformat() if entry.published else None,
        "updated": entry.updated.isoformat() if entry.updated else None,
    }


def _read_entry(data: dict[str, Any]) -> FeedEntry:
    return FeedEntry(
        guid=str(data["guid"]),
        url=_opt_str(data["url"]),
        title=str(data["title"]),
        summary=str(data["summary"]),
        author=_opt_str(data["author"]),
        published=_time(data["published"]),
        language=_opt_str(data["language"]),
        updated=_time(data["updated"]),
    )


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    when = datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError(f"a time without its zone: {value}")
    return when


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value
