"""Feed health: what a poll's outcome does to a feed's state and schedule, and
the one word a feed's health is called by everywhere.

Two vocabularies, kept apart:

* an :class:`Outcome` is what one poll came to; its ``kind`` (``ok``,
  ``not_modified``, ``error``, ``throttled``, ``gone``, ``interrupted``) is
  stored in ``polls.status`` and ``feeds.last_status``;
* a :class:`Status` is what a person reads about a feed: ``watcher feeds``,
  ``watcher status``, the web page, operator notices and the log lines all
  say ``new``, ``ok``, ``not modified``, ``degraded``, ``silent``,
  ``throttled``, ``failing`` or ``gone``. :meth:`FeedState.status` says how
  the last fetches went, from the feed's row; :func:`assess` adds what the
  recent polls say (:class:`Activity`) and is the one place the word is
  computed:

  - ``degraded``: the feed is read, but most of its article pages failed in
    the recent polls (at least :data:`MIN_PAGES` tried; only feed summaries
    are stored), or it is read only by the lenient parser (malformed XML);
  - ``silent``: the feed is read, but has brought no new entry for much
    longer than usual: :data:`SILENT_FACTOR` times its median gap between
    polls that found new entries over the last :data:`RHYTHM_DAYS` days, at
    least :data:`SILENT_FLOOR`; while it has no such rhythm yet (fewer than
    :data:`MIN_GAPS` gaps), after :data:`SILENT_WITHOUT_RHYTHM`.

A failing feed backs off exponentially (interval x 2^(errors-1), capped) and
recovers on its own: the first success resets it. A throttled feed (429/503)
waits at least as long as its Retry-After says (bounded: a stranger's header
cannot park a feed for a year). A gone feed (410) is no longer polled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum

MAX_BACKOFF = 24 * 3600.0
MAX_RETRY_AFTER = 7 * 24 * 3600.0
HOUR, DAY = 3600.0, 86400.0

# degraded: the share of article pages that failed in the recent polls
PAGES_POLLS = 10  # the last polls that tried pages...
PAGES_DAYS = 7  # ...within this many days
MIN_PAGES = 3  # fewer pages tried say nothing yet
# What a parse warning says when the feed was read only by the lenient parser.
LENIENT_MARKS = ("lenient parser", "not well-formed", "malformed")
# silent: no new entry for much longer than usual
RHYTHM_DAYS = 28
MIN_GAPS = 4
SILENT_FACTOR = 5
SILENT_FLOOR = DAY
SILENT_WITHOUT_RHYTHM = 7 * DAY

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
    DEGRADED = "degraded"  # read, but most article pages fail, or only the lenient parser reads it
    SILENT = "silent"  # read, but nothing new for much longer than usual
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


TROUBLE = frozenset({Status.DEGRADED, Status.SILENT, Status.THROTTLED, Status.FAILING, Status.GONE})


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
        return _status(self.gone, self.consecutive_errors, self.last_status)


def status_of(row: Mapping, update: Mapping | None = None) -> Status:
    """``FeedState.of(row).status`` (of ``row`` updated by ``update``, e.g.
    :func:`next_state`'s columns), without building either: a poll asks twice."""
    now = {**row, **update} if update else row
    return _status(bool(now.get("gone")), now.get("consecutive_errors") or 0, now.get("last_status"))


def _status(gone: bool, consecutive_errors: int, last_status: str | None) -> Status:
    if gone:
        return Status.GONE
    if consecutive_errors:
        return Status.THROTTLED if last_status == THROTTLED else Status.FAILING
    if last_status == NOT_MODIFIED:
        return Status.NOT_MODIFIED
    if last_status == OK:
        return Status.OK
    return Status.NEW


@dataclass(frozen=True)
class Activity:
    """What a feed's recent polls say, beyond its row (``watcher.store.feeds.activity``)."""

    pages_tried: int = 0  # article pages requested in the recent polls (PAGES_POLLS, PAGES_DAYS)
    pages_failed: int = 0  # of which failed
    last_page_error: str | None = None
    warning: str | None = None  # the last read's parse warning
    last_new_entry: datetime | None = None  # the last poll that found a new entry
    new_entry_polls: tuple[datetime, ...] = ()  # polls that found new entries, last RHYTHM_DAYS days
    added: datetime | None = None  # when the feed was first configured
    failing_since: datetime | None = None  # the first failed poll since the last success

    @classmethod
    def of(cls, row: Mapping, facts: Mapping | None = None) -> Activity:
        """From a ``feeds`` row and its ``watcher.store.feeds.activity`` facts."""
        facts = facts or {}
        return cls(
            pages_tried=facts.get("pages_tried") or 0,
            pages_failed=facts.get("pages_failed") or 0,
            last_page_error=row.get("last_page_error"),
            warning=row.get("last_warning"),
            last_new_entry=_stamp(facts.get("last_new_entry")),
            new_entry_polls=tuple(t for t in map(_stamp, facts.get("new_entry_polls") or ()) if t),
            added=_stamp(row.get("created_at")),
            failing_since=_stamp(facts.get("failing_since")),
        )


def _stamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def windows(now: datetime) -> tuple[str, str, int]:
    """What :func:`watcher.store.feeds.activity` reads at ``now``: the start of
    the pages window, the start of the rhythm window, and how many polls."""
    now = now.astimezone(timezone.utc)
    return (
        (now - timedelta(days=PAGES_DAYS)).isoformat(),
        (now - timedelta(days=RHYTHM_DAYS)).isoformat(),
        PAGES_POLLS,
    )


@dataclass(frozen=True)
class Health:
    """A feed's health, with the facts and reasons behind the word."""

    status: Status
    fetch: Status  # how the last fetches went (FeedState.status)
    activity: Activity
    degraded: str | None = None  # why it is degraded (None: it is not, or cannot be judged)
    silent: str | None = None  # why it is silent
    usual_gap: float | None = None  # seconds: the median gap between new entries
    silent_after: float | None = None  # seconds without a new entry that make it silent

    @property
    def judged(self) -> bool:
        """Whether degraded and silent could be judged: only a feed that is
        read can be said to be read badly, or to be quiet."""
        return self.fetch.healthy

    @property
    def reason(self) -> str | None:
        return self.silent or self.degraded


def usual_gap(polls: Sequence[datetime]) -> float | None:
    """The median gap in seconds between polls that found new entries; None
    when there are fewer than MIN_GAPS gaps to judge by."""
    times = sorted(polls)
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    return _median(gaps) if len(gaps) >= MIN_GAPS else None


def _median(values: list[float]) -> float:
    """As ``statistics.median`` says it (the mean of the middle two of an even
    count), without importing ``statistics`` (and with it ``fractions``,
    ``decimal`` and ``random``) into every command that shows a feed's health."""
    ordered = sorted(values)
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


def silent_after(gap: float | None) -> float:
    """Seconds without a new entry after which a feed is silent."""
    return SILENT_WITHOUT_RHYTHM if gap is None else max(SILENT_FLOOR, SILENT_FACTOR * gap)


def lenient(warning: str | None) -> bool:
    """Whether a parse warning says the feed was read only leniently (malformed)."""
    text = (warning or "").lower()
    return any(mark in text for mark in LENIENT_MARKS)


def assess(state: FeedState, activity: Activity, now: datetime) -> Health:
    """The feed's health at ``now``: the fetch status, then, for a feed that
    is read, whether it is degraded or silent (silent first: nothing new at all
    matters more than how it is read)."""
    fetch = state.status
    if not fetch.healthy:
        return Health(fetch, fetch, activity)
    degraded = None
    a = activity
    if a.pages_tried >= MIN_PAGES and a.pages_failed * 2 > a.pages_tried:
        degraded = (
            f"{a.pages_failed} of {a.pages_tried} article pages failed in recent polls "
            f"(last: {a.last_page_error or 'unknown'}); only feed summaries are stored"
        )
    elif lenient(a.warning):
        degraded = f"read only by the lenient parser: {a.warning}"
    gap = usual_gap(a.new_entry_polls)
    after = silent_after(gap)
    since = a.last_new_entry or a.added
    silent = None
    if since is not None and (now - since).total_seconds() > after:
        usual = f"usually every {span(gap)}" if gap is not None else "no usual rhythm known yet"
        silent = (
            f"no new entry for {span((now - since).total_seconds())} ({usual}); "
            "check that its address still lists new articles"
        )
    status = Status.SILENT if silent else Status.DEGRADED if degraded else fetch
    return Health(status, fetch, activity, degraded, silent, gap, after)


def span(seconds: float) -> str:
    """A duration as people say it: '45 min', '6 h', '1 day', '3 days'."""
    if seconds >= 1.5 * DAY:
        return f"{seconds / DAY:.0f} days"
    if seconds >= 0.9 * DAY:
        return "1 day"
    if seconds >= 2 * HOUR:
        return f"{seconds / HOUR:.0f} h"
    return f"{max(1.0, seconds / 60):.0f} min"


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
