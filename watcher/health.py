"""Feed health: what a poll's outcome does to a feed's state and schedule, and
the one word a feed's health is called by everywhere.

Two vocabularies, kept apart:

* an :class:`Outcome` is what one poll came to; its ``kind`` (``ok``,
  ``not_modified``, ``error``, ``throttled``, ``gone``, ``interrupted``) is
  stored in ``polls.status`` and ``feeds.last_status``;
* a :class:`Status` is what a person reads about a feed: ``watcher feeds``,
  ``watcher status``, the web page and the log lines all say ``new``, ``ok``,
  ``not modified``, ``throttled``, ``failing`` or ``gone``, computed by
  :meth:`FeedState.status` from the stored columns and nowhere else.

A failing feed backs off exponentially (interval x 2^(errors-1), capped) and
recovers on its own: the first success resets it. A throttled feed (429/503)
waits at least as long as its Retry-After says (bounded: a stranger's header
cannot park a feed for a year). A gone feed (410) is no longer polled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MAX_BACKOFF = 24 * 3600.0
MAX_RETRY_AFTER = 7 * 24 * 3600.0

# What one poll came to (Outcome.kind; stored, so never renamed).
OK = "ok"
NOT_MODIFIED = "not_modified"
ERROR = "error"
THROTTLED = "throttled"
GONE = "gone"
INTERRUPTED = "interrupted"  # stopped between entries by a shutdown: not the feed's fault


class Status(StrEnum):
    """A feed's health as people read it. A new word is added here, with its
    rule in :meth:`FeedState.status` and its colour in the web page's CSS
    (``state-<slug>``); the CLI, the web page and the logs then all show it."""

    NEW = "new"  # never polled to the end yet
    OK = "ok"  # the last poll read the feed
    NOT_MODIFIED = "not modified"  # the last poll was answered 304: nothing new
    THROTTLED = "throttled"  # the server asked us to slow down (429/503); waiting
    FAILING = "failing"  # the last poll(s) failed; backing off
    GONE = "gone"  # 410: the publisher removed the feed; no longer polled

    @property
    def slug(self) -> str:
        """The word as a CSS class or identifier: ``not-modified``."""
        return self.value.replace(" ", "-")

    @property
    def trouble(self) -> bool:
        """Whether a person should look at this feed (warned about on the web page)."""
        return self in TROUBLE

    @property
    def healthy(self) -> bool:
        """Whether the feed is read as it should be (a quiet healthy feed may still be flagged)."""
        return self in (Status.OK, Status.NOT_MODIFIED)


TROUBLE = frozenset({Status.THROTTLED, Status.FAILING, Status.GONE})


@dataclass(frozen=True)
class FeedState:
    """The columns of a feed's row that its health is read from."""

    last_polled: str | None = None
    last_status: str | None = None  # the kind of the last outcome that changed the state
    consecutive_errors: int = 0
    gone: bool = False

    @classmethod
    def of(cls, row: Mapping) -> FeedState:
        """From a ``feeds`` row (or any mapping with those keys; missing ones: never polled)."""
        return cls(
            row.get("last_polled"),
            row.get("last_status"),
            row.get("consecutive_errors") or 0,
            bool(row.get("gone")),
        )

    @property
    def status(self) -> Status:
        if self.gone:
            return Status.GONE
        if self.consecutive_errors:
            return Status.THROTTLED if self.last_status == THROTTLED else Status.FAILING
        if self.last_status == NOT_MODIFIED:
            return Status.NOT_MODIFIED
        if self.last_status == OK:
            return Status.OK
        return Status.NEW


@dataclass(frozen=True)
class Outcome:
    """What one poll of one feed came to."""

    kind: str  # one of the constants above
    http_status: int | None = None
    error: str | None = None  # why the feed itself could not be read (None when it was)
    etag: str | None = None
    last_modified: str | None = None
    retry_after: float | None = None
    entries_new: int = 0
    pages_tried: int = 0  # article pages requested in this poll
    pages_failed: int = 0  # of which failed (fetch, HTTP status or extraction)
    last_page_error: str | None = None  # the last page failure of this poll
    # What was read but not cleanly: a malformed feed, one cut at the entry
    # limit, entries without links, entries that failed, the poll deadline.
    warning: str | None = None
    entries_failed: int = 0  # entries whose processing raised (recorded on each entry)
    timeouts: int = 0  # requests of this poll that ran into their deadline


def backoff(interval: float, errors: int) -> float:
    if errors <= 0:
        return interval
    return min(MAX_BACKOFF, max(interval, interval * 2 ** min(errors - 1, 16)))


def delay(feed: Mapping, outcome: Outcome, *, interval: float) -> float | None:
    """Seconds from the end of a poll that came to ``outcome`` to the feed's
    next poll (None: never again, the feed is gone). The daemon schedules by
    this on the monotonic clock; ``next_due`` stores it as a wall-clock time
    for people to read and for ``run --once``."""
    if outcome.kind == INTERRUPTED:
        return 0.0
    if outcome.kind in (OK, NOT_MODIFIED):
        return interval
    if outcome.kind == GONE:
        return None
    seconds = backoff(interval, (feed.get("consecutive_errors") or 0) + 1)
    if outcome.kind == THROTTLED and outcome.retry_after:
        seconds = max(seconds, min(outcome.retry_after, MAX_RETRY_AFTER))
    return seconds


def next_state(feed: Mapping, outcome: Outcome, *, interval: float, now: datetime) -> dict:
    """The feed row's columns after ``outcome`` (a dict to update the row with)."""
    stamp = now.isoformat()
    if outcome.kind == INTERRUPTED:  # the feed stays as it was, due again at once
        return {"last_polled": stamp}
    update: dict = {
        "last_polled": stamp,
        "last_status": outcome.kind,
        "last_http_status": outcome.http_status,
    }
    if outcome.kind == OK:  # what the entries of this poll came to
        update.update(
            pages_tried=outcome.pages_tried, pages_failed=outcome.pages_failed, last_warning=outcome.warning
        )
        if outcome.last_page_error or (outcome.pages_tried and not outcome.pages_failed):
            update["last_page_error"] = outcome.last_page_error
    if outcome.kind in (OK, NOT_MODIFIED):
        update.update(consecutive_errors=0, last_error=None, last_success=stamp, gone=0)
        if outcome.kind == OK:
            update.update(etag=outcome.etag, last_modified=outcome.last_modified)
    elif outcome.kind == GONE:
        update.update(gone=1, last_error=outcome.error)
        update["consecutive_errors"] = (feed.get("consecutive_errors") or 0) + 1
    else:
        update["consecutive_errors"] = (feed.get("consecutive_errors") or 0) + 1
        update["last_error"] = outcome.error
    seconds = delay(feed, outcome, interval=interval)
    update["next_due"] = None if seconds is None else (now + timedelta(seconds=seconds)).isoformat()
    return update
