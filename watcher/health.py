"""Feed health: what a poll's outcome does to a feed's state and schedule.

A failing feed backs off exponentially (interval x 2^(errors-1), capped) and
recovers on its own: the first success resets it. A throttled feed (429/503)
waits at least as long as its Retry-After says (bounded: a stranger's header
cannot park a feed for a year). A gone feed (410) is no longer polled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_BACKOFF = 24 * 3600.0
MAX_RETRY_AFTER = 7 * 24 * 3600.0

OK = "ok"
NOT_MODIFIED = "not_modified"
ERROR = "error"
THROTTLED = "throttled"
GONE = "gone"
INTERRUPTED = "interrupted"          # stopped between entries by a shutdown: not the feed's fault


@dataclass(frozen=True)
class Outcome:
    """What one poll of one feed came to."""

    status: str                      # one of the constants above
    http_status: int | None = None
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    retry_after: float | None = None
    entries_new: int = 0


def backoff(interval: float, errors: int) -> float:
    if errors <= 0:
        return interval
    return min(MAX_BACKOFF, max(interval, interval * 2 ** min(errors - 1, 16)))


def next_state(feed: dict, outcome: Outcome, *, interval: float, now: datetime) -> dict:
    """The feed row's columns after ``outcome`` (a dict to update the row with)."""
    stamp = now.isoformat()
    if outcome.status == INTERRUPTED:    # the feed stays as it was, due again at once
        return {"last_polled": stamp}
    update = {"last_polled": stamp, "last_status": outcome.status,
              "last_http_status": outcome.http_status}
    if outcome.status in (OK, NOT_MODIFIED):
        update.update(consecutive_errors=0, last_error=None, last_success=stamp, gone=0)
        if outcome.status == OK:
            update.update(etag=outcome.etag, last_modified=outcome.last_modified)
        delay = interval
    elif outcome.status == GONE:
        update.update(gone=1, last_error=outcome.error,
                      consecutive_errors=feed.get("consecutive_errors", 0) + 1)
        return {**update, "next_due": None}
    else:
        errors = feed.get("consecutive_errors", 0) + 1
        update.update(consecutive_errors=errors, last_error=outcome.error)
        delay = backoff(interval, errors)
        if outcome.status == THROTTLED and outcome.retry_after:
            delay = max(delay, min(outcome.retry_after, MAX_RETRY_AFTER))
    update["next_due"] = (now + timedelta(seconds=delay)).isoformat()
    return update
