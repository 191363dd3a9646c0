"""What crosses the queue, as JSON: fetch orders one way, plain results the
other (``watcher.pipeline.reader``'s dataclasses). No database row, no
pickle: a value that does not read back as its dataclass, field by field and
type by type, is refused (``WireError``), never executed.

The dataclasses are turned into JSON values and read back by msgspec, from
their own type hints: a field added to an order or a result crosses the queue
without an edit here (a hand-written decoder had dropped a page order's
``headers`` and a feed order's ``recent``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

import msgspec

from watcher.errors import WatcherError
from watcher.pipeline.reader import FeedOrder, FeedRead, PageOrder, PageRead

FEED, PAGE = "feed", "page"
ORDERS: dict[str, type[FeedOrder] | type[PageOrder]] = {FEED: FeedOrder, PAGE: PageOrder}
RESULTS: dict[str, type[FeedRead] | type[PageRead]] = {FEED: FeedRead, PAGE: PageRead}
T = TypeVar("T")


class WireError(WatcherError):
    """A message from the queue that is not what this watcher sends."""


def order(kind: str, value: FeedOrder | PageOrder) -> dict[str, Any]:
    return _plain(value)


def read_order(kind: str, data: dict[str, Any]) -> FeedOrder | PageOrder:
    if kind not in ORDERS:
        raise WireError(f"an order of unknown kind {kind!r}")
    return _read(data, ORDERS[kind], f"a {kind} order")


def result(value: FeedRead | PageRead) -> dict[str, Any]:
    if isinstance(value, PageRead):
        # the plain values only: the text's folding (a Normalised) is folded again on the other side
        value = replace(value, derived=_plain_derived(value.derived))
    return _plain(value)


def read_result(kind: str, data: dict[str, Any]) -> FeedRead | PageRead:
    if kind not in RESULTS:
        raise WireError(f"a result of unknown kind {kind!r}")
    value = _read(data, RESULTS[kind], f"a {kind} result")
    if isinstance(value, PageRead):
        return replace(value, derived=_plain_derived(value.derived))
    if value.feed is not None:
        for entry in value.feed.entries:
            for when in (entry.published, entry.updated):
                if when is not None and when.tzinfo is None:
                    raise WireError(f"a {kind} result that does not read: a time without its zone: {when}")
    return value


def _plain(value: object) -> dict[str, Any]:
    data = msgspec.to_builtins(value)
    assert isinstance(data, dict)
    return data


def _read(data: object, kind: type[T], what: str) -> T:
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        raise WireError(f"{what} that does not read: {exc}") from None


def _plain_derived(derived: Any) -> dict[str, str | int | None]:
    return {str(k): v for k, v in derived.items() if isinstance(v, (str, int, type(None)))}
