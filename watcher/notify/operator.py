"""Operator notices: the watcher tells whoever runs it when it stops working
as it should, and once more when it works again.

:func:`check` looks at the store and writes a notice when a condition starts
and when it ends (one of each per episode), each in the ``notices`` table and
as outbox rows for every channel marked ``ops = true``, in one transaction:
notices are never lost, go out through apprise like alerts (retries, the
circuit breaker, quiet hours and the hourly cap included), and notices due
together on one channel go out as one message. ``watcher alerts`` lists
them, with the conditions now open. The daemon calls :func:`check` every few
minutes; ``watcher run --once`` at the end of its pass.

The conditions, each keyed so that it notifies once per episode:

``feed-failing:URL``
    the feed failed ``[alerts] ops_after_errors`` polls in a row (default 3)
    or has been failing for ``[alerts] ops_after`` (default 1 h); ends at
    its next good read;
``feed-gone:URL``
    the publisher answered ``410 Gone``;
``feed-silent:URL`` / ``feed-degraded:URL``
    :func:`watcher.health.assess` says so; judged only while the feed is
    read (a failing feed neither starts nor ends these);
``channel-failing:NAME``
    the channel's circuit breaker has been open for ``[alerts] ops_after``;
``extraction-dying``
    the extraction worker died (or would not start) on :data:`WORKER_DEATHS`
    or more pages in the last day;
``rule-silent:ID``
    a rule that matched on at least :data:`DAILY_DAYS` of the
    :data:`REFERENCE_DAYS` days before the last week has not matched in the
    last :data:`SILENT_RULE_DAYS` days; ends at its next match.

A condition whose feed, channel or rule is no longer configured, or whose
feed is paused (``enabled = false``), ends with a notice saying so; a paused
feed is not judged. A condition that ended starts again no sooner than
``[alerts] ops_after`` later (while it is still true then), so a feed
flapping around a threshold cannot flood the ops channel.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from watcher import health
from watcher.config import ChannelConfig, Config
from watcher.errors import WORKER_DEATHS as DEATH_MESSAGES
from watcher.store import alerts, articles, channels, feeds, matches, notices
from watcher.store.database import Store

log = logging.getLogger("watcher.operator")

CHECK_EVERY = 300.0  # seconds between the daemon's checks
WORKER_DEATHS = 3  # extraction worker deaths in DEATH_WINDOW that make a notice
DEATH_WINDOW = timedelta(days=1)
SILENT_RULE_DAYS = 7
REFERENCE_DAYS = 21  # the weeks before the silent week
DAILY_DAYS = 14  # "used to match daily": on at least this many of those days
START_SEVERITY, END_SEVERITY = "high", "low"


@dataclass(frozen=True)
class Condition:
    """One condition now true, with what its notice says."""

    key: str
    subject: str  # what it is about: "feed Example News"
    predicate: str  # what is wrong: "is failing"
    body: str  # what was seen and what to do

    @property
    def title(self) -> str:
        return f"{self.subject} {self.predicate}"


@dataclass(frozen=True)
class Notice:
    """A notice :func:`check` wrote."""

    id: int
    key: str
    event: str  # 'start' or 'end'
    title: str
    channels: tuple[str, ...]  # the ops channels it was queued for


@dataclass(frozen=True)
class _Verdicts:
    active: dict[str, Condition]  # conditions now true
    known: set[str]  # keys judged now: an open one not active ends; others stay as they are


def check(store: Store, config: Config, now: datetime, *, rules: Collection[str] = ()) -> list[Notice]:
    """Start or end the conditions the store shows at ``now``; returns the
    notices written (and queued for the ops channels). ``rules``: the ids of
    the rules now loaded."""
    verdicts = _Verdicts({}, set())
    _feeds(store, config, now, verdicts)
    _channels(store, config, now, verdicts)
    _extraction(store, now, verdicts)
    _rules(store, rules, now, verdicts)
    ops = [c for c in config.channels if c.ops]
    written: list[Notice] = []
    calm = now - timedelta(seconds=config.alerts.ops_after)
    with store.atomic():
        latest = notices.latest(store)
        opened = {key: row for key, row in latest.items() if row["event"] == notices.START}
        for key, condition in verdicts.active.items():
            ended = latest.get(key)
            if (
                ended is not None
                and ended["event"] == notices.END
                and datetime.fromisoformat(ended["created_at"]) > calm
            ):
                continue  # it ended a moment ago: flapping; it starts again once calm, if still true
            if key not in opened:
                written.append(
                    _write(
                        store,
                        ops,
                        key,
                        notices.START,
                        condition.subject,
                        condition.title,
                        condition.body,
                        now,
                    )
                )
        for key, start in opened.items():
            if key in verdicts.active:
                continue
            subject = start["subject"]
            if key in verdicts.known:
                title = f"{subject} {RECOVERED.get(key.partition(':')[0], 'recovered')}"
                written.append(
                    _write(store, ops, key, notices.END, subject, title, _end_body(start, now), now)
                )
            elif not _still_configured(key, config, rules):
                title = f"{subject} is " + (
                    "paused" if _paused(key, config) else "no longer in the configuration"
                )
                body = f"The condition '{start['title']}' (since {_when(start['created_at'])}) is closed."
                written.append(_write(store, ops, key, notices.END, subject, title, body, now))
    for notice in written:
        log.warning(
            "operator notice: %s%s",
            notice.title,
            f" (queued for {', '.join(notice.channels)})"
            if notice.channels
            else " (no channel has ops = true: see `watcher alerts`)",
        )
    return written


def open_conditions(store: Store) -> list[dict]:
    """The conditions now open, oldest first: their start notices."""
    return list(notices.open_episodes(store).values())


# -- writing ---------------------------------------------------------------------------


def _write(
    store: Store,
    ops: list[ChannelConfig],
    key: str,
    event: str,
    subject: str,
    title: str,
    body: str,
    now: datetime,
) -> Notice:
    severity = START_SEVERITY if event == notices.START else END_SEVERITY
    notice_id = notices.add(
        store, key=key, event=event, subject=subject, title=title, body=body, severity=severity, now=now
    )
    queued = tuple(
        c.name
        for c in ops
        if alerts.add(
            store,
            key=f"notice:{notice_id}:{c.name}",
            story_id=None,
            article_id=None,
            notice_id=notice_id,
            channel=c.name,
            mode="notice",
            due=now,
            now=now,
            severity=severity,
        )
    )
    return Notice(notice_id, key, event, title, queued)


RECOVERED = {  # what the end notice says about the condition's subject
    "feed-failing": "is read again",
    "feed-gone": "is back",
    "feed-silent": "brings new entries again",
    "feed-degraded": "is no longer degraded",
    "channel-failing": "answers again",
    "extraction-dying": "works again",
    "rule-silent": "matches again",
}


def _end_body(start: dict, now: datetime) -> str:
    began = datetime.fromisoformat(start["created_at"])
    return (
        f"It was noticed {_when(start['created_at'])}: {start['title']} "
        f"({health.span((now - began).total_seconds())} ago)."
    )


def _still_configured(key: str, config: Config, rules: Collection[str]) -> bool:
    kind, _, name = key.partition(":")
    if kind.startswith("feed-"):
        return any(f.url == name and f.enabled for f in config.feeds)
    if kind == "channel-failing":
        return config.channel(name) is not None
    if kind == "rule-silent":
        return not rules or name in rules
    return True


def _paused(key: str, config: Config) -> bool:
    kind, _, name = key.partition(":")
    return kind.startswith("feed-") and any(f.url == name and not f.enabled for f in config.feeds)


def _when(stamp: str | None) -> str:
    if not stamp:
        return "never"
    try:
        return datetime.fromisoformat(stamp).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return stamp


def _add(verdicts: _Verdicts, key: str, condition: Condition | None, *, known: bool = True) -> None:
    if condition is not None:
        verdicts.active[key] = condition
    if known:
        verdicts.known.add(key)


def _condition(key: str, subject: str, predicate: str, lines: Iterable[str]) -> Condition:
    return Condition(key, subject, predicate, "\n".join(lines))


# -- the conditions ---------------------------------------------------------------------------


def _feeds(store: Store, config: Config, now: datetime, verdicts: _Verdicts) -> None:
    rows = {r["url"]: r for r in feeds.listing(store)}
    facts = feeds.activity(store, *health.windows(now))
    limits = config.alerts
    for feed in config.feeds:
        row = rows.get(feed.url)
        if row is None or not feed.enabled:  # a paused feed is not polled: nothing to judge
            continue
        state = health.FeedState.of(row)
        verdict = health.assess(state, health.Activity.of(row, facts.get(row["id"])), now)
        name = feed.name
        since = verdict.activity.failing_since
        failing = verdict.fetch in (health.Status.FAILING, health.Status.THROTTLED) and (
            state.consecutive_errors >= limits.ops_after_errors
            or (since is not None and (now - since).total_seconds() >= limits.ops_after)
        )
        key = f"feed-failing:{feed.url}"
        _add(
            verdicts,
            key,
            _condition(
                key,
                f"feed {name}",
                f"is {verdict.fetch}",
                [
                    f"{name} ({feed.url}) has failed {state.consecutive_errors} poll(s) in a row"
                    + (f", since {_when(since.isoformat())}" if since else "")
                    + ".",
                    f"Last error: {row['last_error'] or 'unknown'}",
                    f"Next try: {_when(row['next_due'])}. `watcher feeds` shows it.",
                ],
            )
            if failing
            else None,
            # an episode ends only when the feed is read again, not while it backs off below the threshold
            known=failing or verdict.fetch.healthy,
        )
        key = f"feed-gone:{feed.url}"
        _add(
            verdicts,
            key,
            _condition(
                key,
                f"feed {name}",
                "is gone (HTTP 410)",
                [
                    f"{name} ({feed.url}) answered 410 Gone: the publisher removed it; it is no longer polled.",
                    "Remove it from the config or fix its url.",
                ],
            )
            if state.gone
            else None,
        )
        for word, reason in (("silent", verdict.silent), ("degraded", verdict.degraded)):
            key = f"feed-{word}:{feed.url}"
            condition = None
            if reason:
                condition = _condition(
                    key,
                    f"feed {name}",
                    f"is {word}",
                    [f"{name} ({feed.url}): {reason}.", "`watcher feeds` shows it."],
                )
            _add(verdicts, key, condition, known=verdict.judged)


def _channels(store: Store, config: Config, now: datetime, verdicts: _Verdicts) -> None:
    states = {c.channel: c for c in channels.listing(store)}
    for channel in config.channels:
        state = states.get(channel.name)
        key = f"channel-failing:{channel.name}"
        condition = None
        if state is not None and state.failing_since:
            since = datetime.fromisoformat(state.failing_since)
            if (now - since).total_seconds() >= config.alerts.ops_after:
                waiting = len(alerts.pending_ids(store, channel.name))
                condition = _condition(
                    key,
                    f"channel {channel.name}",
                    f"has been failing for {health.span((now - since).total_seconds())}",
                    [
                        f"Every try since {_when(state.failing_since)} failed ({state.failures} tries); "
                        f"{waiting} alert(s) wait for it and are sent when it answers again.",
                        f"Last error: {state.last_error or 'unknown'}",
                        f"`watcher notify --test {channel.name}` tries it now.",
                    ],
                )
        _add(
            verdicts, key, condition, known=state is None or not state.failing_since or condition is not None
        )


def _extraction(store: Store, now: datetime, verdicts: _Verdicts) -> None:
    since = (now - DEATH_WINDOW).astimezone(timezone.utc).isoformat()
    deaths = articles.extraction_errors_since(store, since=since, patterns=DEATH_MESSAGES)
    key = "extraction-dying"
    condition = None
    if deaths >= WORKER_DEATHS:
        condition = _condition(
            key,
            "the extraction worker",
            "keeps dying",
            [
                f"The extraction worker died or would not start on {deaths} page(s) in the last day; "
                "those articles keep only their feed summary.",
                "Check memory ([extraction] memory_mb), the system log (OOM killer) and "
                "`watcher show ID` of a recent article.",
            ],
        )
    _add(verdicts, key, condition)


def _rules(store: Store, rules: Collection[str], now: datetime, verdicts: _Verdicts) -> None:
    if not rules:
        return
    utc = now.astimezone(timezone.utc)
    week = (utc - timedelta(days=SILENT_RULE_DAYS)).isoformat()
    before = (utc - timedelta(days=SILENT_RULE_DAYS + REFERENCE_DAYS)).isoformat()
    earlier = matches.days_matched(store, since=before, until=week)
    recent = matches.days_matched(store, since=week, until=(utc + timedelta(days=1)).isoformat())
    for rule in rules:
        key = f"rule-silent:{rule}"
        if recent.get(rule):
            _add(verdicts, key, None)
        elif earlier.get(rule, 0) >= DAILY_DAYS:
            condition = _condition(
                key,
                f"rule {rule}",
                f"has not matched for {SILENT_RULE_DAYS} days",
                [
                    f"It matched on {earlier[rule]} of the {REFERENCE_DAYS} days before; nothing since "
                    f"{_when(week)}.",
                    "A feed it relied on may have gone quiet, or the wording in the news changed: "
                    "`watcher feeds`, `watcher rules stats`.",
                ],
            )
            _add(verdicts, key, condition)
        # otherwise not judged: an open episode stays open until the rule matches again
