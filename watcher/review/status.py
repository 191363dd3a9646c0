"""Feeds and the database: each feed's health (``watcher feeds``, the feeds
page, the stories page's warning) and the database's size, counts and age
(``watcher status``). The health word and its reasons come from
:func:`watcher.health.assess`, the one place they are computed."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from watcher import health
from watcher.store import alerts, articles, matches, meta, overview
from watcher.store import feeds as feeds_rows
from watcher.store.database import Store

PAUSED = "paused"  # enabled = false in the config: not polled; counted apart from the health words


@dataclass(frozen=True)
class FeedHealth:
    id: int
    name: str
    url: str
    last_polled: str | None
    last_success: str | None
    last_status: str | None
    last_http_status: int | None
    consecutive_errors: int
    last_error: str | None
    next_due: str | None
    gone: bool
    articles: int
    matched: int
    last_article: str | None = None  # when the newest article from this feed was fetched
    verdict: health.Health | None = None  # the word and the reasons behind it
    kind: str = "feed"  # feed, telegram, sitemap, page
    tags: tuple[str, ...] = ()
    paused: bool = False  # enabled = false in the config: not polled

    @property
    def state(self) -> health.Status:
        """The feed's health, in the words the CLI, the web page and the logs use."""
        if self.verdict is not None:
            return self.verdict.status
        return health.FeedState(self.last_polled, self.last_status, self.consecutive_errors, self.gone).status

    @property
    def activity(self) -> health.Activity:
        return self.verdict.activity if self.verdict else health.Activity()

    # What `watcher feeds --json` and the feeds page show besides the row.
    @property
    def pages_tried(self) -> int:
        """Article pages requested in the recent polls."""
        return self.activity.pages_tried

    @property
    def pages_failed(self) -> int:
        return self.activity.pages_failed

    @property
    def last_page_error(self) -> str | None:
        return self.activity.last_page_error

    @property
    def last_warning(self) -> str | None:
        """The last read's parse warning: malformed, cut at the entry limit, entries without links."""
        return self.activity.warning

    @property
    def last_new_entry(self) -> str | None:
        when = self.activity.last_new_entry
        return when.isoformat() if when else None

    @property
    def usual_gap(self) -> float | None:
        """Seconds: the median gap between polls that found new entries, last weeks."""
        return self.verdict.usual_gap if self.verdict else None

    @property
    def rhythm(self) -> str | None:
        """The usual gap between new entries as people say it ('1 day'), if known."""
        gap = self.usual_gap
        return health.span(gap) if gap is not None else None

    @property
    def reason(self) -> str | None:
        """Why the feed is degraded or silent (the fetch error says why it fails)."""
        return self.verdict.reason if self.verdict else None


def feed_health(store: Store, now: datetime) -> tuple[FeedHealth, ...]:
    """Every feed's health at ``now``: last poll, errors, next due time, and
    what its recent polls say (pages, warnings, rhythm); failing feeds first."""
    facts = feeds_rows.activity(store, *health.windows(now))
    return tuple(
        FeedHealth(
            r["id"],
            r["name"],
            r["url"],
            r["last_polled"],
            r["last_success"],
            r["last_status"],
            r["last_http_status"],
            r["consecutive_errors"],
            r["last_error"],
            r["next_due"],
            bool(r["gone"]),
            r["articles"],
            r["matched"],
            r["last_article"],
            _verdict(r, facts, now),
            r.get("kind") or "feed",
            _tags(r.get("tags")),
            bool(r.get("paused")),
        )
        for r in feeds_rows.with_article_counts(store)
    )


def _verdict(row: dict, facts: dict[int, dict], now: datetime) -> health.Health:
    """The health of the feed of ``row`` (its ``feeds`` row), with the facts of its recent polls."""
    return health.assess(health.FeedState.of(row), health.Activity.of(row, facts.get(row["id"])), now)


def feeds_by_status(store: Store, now: datetime) -> dict[str, int]:
    """How many feeds are in each health word (as :func:`feed_health` judges
    them, without counting their articles), zeros included, and how many are
    paused: a paused feed (``enabled = false``, not polled) counts as paused
    whatever its last polls said, as ``watcher feeds`` shows it, never as
    failing or silent."""
    facts = feeds_rows.activity(store, *health.windows(now))
    return _counted(
        PAUSED if r.get("paused") else str(_verdict(r, facts, now).status) for r in feeds_rows.listing(store)
    )


def _counted(words: Iterable[str]) -> dict[str, int]:
    counted = Counter(words)
    return {word: counted[word] for word in (*(str(s) for s in health.Status), PAUSED)}


def feeds_page(store: Store, now: datetime) -> tuple[tuple[FeedHealth, ...], Status]:
    """What the web page's feeds tab shows: every feed's health and the
    status, from one reading of the feeds' recent polls."""
    feeds = feed_health(store, now)
    by_status = _counted(PAUSED if f.paused else str(f.state) for f in feeds)
    return feeds, _status(store, overview.counts(store), by_status)


def _tags(text: str | None) -> tuple[str, ...]:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return ()
    return tuple(t for t in value if isinstance(t, str)) if isinstance(value, list) else ()


@dataclass(frozen=True)
class Status:
    path: str
    size_bytes: int  # database file plus its write-ahead log
    schema_version: int
    counts: tuple[tuple[str, int], ...]  # (what, how many) in display order
    alerts: tuple[tuple[str, int], ...]  # (status, how many)
    oldest_article: str | None
    newest_article: str | None
    last_run: str | None
    # What the daemon last loaded (at start or on SIGHUP): pid, config, loaded_at,
    # feeds, rules, channels; None when no daemon ever ran on this database.
    daemon: dict | None = None


def status(store: Store, now: datetime) -> Status:
    return _status(store, overview.counts(store), feeds_by_status(store, now))


def report(store: Store, now: datetime) -> tuple[Status, Measures]:
    """What ``watcher status`` shows: the status and the measures, from one
    reading of the counts and of the feeds' health."""
    counts = overview.counts(store)
    by_status = feeds_by_status(store, now)
    return _status(store, counts, by_status), _measures(store, now, counts, by_status)


def _status(store: Store, counts: tuple[tuple[str, int], ...], by_status: dict[str, int]) -> Status:
    oldest, newest = articles.span(store)
    return Status(
        path=store.path,
        size_bytes=overview.size_bytes(store),
        schema_version=store.version,
        counts=counts[:1]
        + tuple((f"feeds {word}", n) for word, n in by_status.items())
        + counts[1:],  # "feeds failing" ... after "feeds"
        alerts=tuple(alerts.by_status(store)),
        oldest_article=oldest,
        newest_article=newest,
        last_run=feeds_rows.last_run(store),
        daemon=_loaded(meta.get(store, "daemon")),
    )


def _loaded(text: str | None) -> dict | None:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def outbox_counts(store: Store) -> tuple[tuple[str, int], ...]:
    """(status, how many) of the alert outbox's rows, by status."""
    return tuple(alerts.by_status(store))


def last_poll(store: Store) -> str | None:
    """When any feed was last polled."""
    return feeds_rows.last_polled(store)


# -- measures: `watcher status --json` and /metrics say the same numbers ------------------

POLL_ERRORS = frozenset({health.ERROR, health.THROTTLED, health.GONE})


@dataclass(frozen=True)
class Measures:
    """What a monitor watches, read from the database at ``now``. The keys of
    :meth:`as_dict` are the ones ``watcher status --json`` prints and the
    ``/metrics`` names of ``watcher serve`` are built from."""

    feeds_by_status: dict[str, int]  # every health word (slug: "not_modified") and paused, zeros included
    polls_by_outcome: dict[str, int]  # what each poll came to: ok, not_modified, error, ...
    poll_errors: int  # polls that failed (error, throttled, gone)
    entries_seen: int
    articles_stored: int
    articles_matched: int
    extraction_failures: int  # articles kept with the feed's summary: the page could not be extracted
    matches_by_rule: dict[str, int]
    alerts_by_channel: dict[str, dict[str, int]]  # channel -> status -> how many
    oldest_pending_alert_age_seconds: float | None  # how long the oldest unsent alert has waited
    last_poll_age_seconds: float | None
    heartbeat_age_seconds: float | None  # since the daemon's scheduler loop last stored a heartbeat

    def as_dict(self) -> dict:
        return asdict(self)


def measure(store: Store, now: datetime) -> Measures:
    return _measures(store, now, overview.counts(store), feeds_by_status(store, now))


def _measures(
    store: Store, now: datetime, counts: tuple[tuple[str, int], ...], by_status: dict[str, int]
) -> Measures:
    count = dict(counts)
    outcomes = feeds_rows.poll_outcomes(store)
    return Measures(
        feeds_by_status={word.replace(" ", "_"): n for word, n in by_status.items()},
        polls_by_outcome=outcomes,
        poll_errors=sum(n for kind, n in outcomes.items() if kind in POLL_ERRORS),
        entries_seen=count["entries seen"],
        articles_stored=count["articles"],
        articles_matched=count["articles matched"],
        extraction_failures=articles.extraction_failures(store),
        matches_by_rule=matches.count_by_rule(store),
        alerts_by_channel=alerts.by_channel(store),
        oldest_pending_alert_age_seconds=_age(alerts.oldest_pending(store), now),
        last_poll_age_seconds=_age(feeds_rows.last_polled(store), now),
        heartbeat_age_seconds=_age(meta.get(store, meta.HEARTBEAT), now),
    )


def _age(stamp: str | None, now: datetime) -> float | None:
    if not stamp:
        return None
    try:
        return round(max(0.0, (now - datetime.fromisoformat(stamp)).total_seconds()), 3)
    except (TypeError, ValueError):
        return None
