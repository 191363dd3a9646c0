"""The log: matched stories, newest first (``watcher log``, the stories page),
and the filters ``log`` and ``export`` share."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from watcher.config import SEVERITIES, severity_rank
from watcher.duration import DurationError, parse_duration
from watcher.review import MAX_LIMIT, ReviewError
from watcher.store import articles, stories
from watcher.store import feedback as verdict_rows
from watcher.store.database import Store

OTHER_OUTLETS = 5  # other outlets a log row names
# The alert status of a story that matched but must not alert: published more than
# [alerts] max_age ago, undated in its feed's first poll, or stored by --no-send.
BASELINE = "baseline / too old to alert"


@dataclass(frozen=True)
class Filter:
    """What ``log``, ``export`` and the stories page narrow down by."""

    rule: str | None = None
    feed: str | None = None  # feed name or URL
    severity: str | None = None  # minimum severity: 'high' keeps high and critical
    since: str | None = None  # ISO-8601 UTC; compared with when the article was fetched
    limit: int | None = 50
    unreviewed: bool = False  # only stories nobody has marked relevant or irrelevant yet
    tag: str | None = None  # only articles from feeds with this tag

    def __post_init__(self) -> None:
        if self.severity is not None and self.severity not in SEVERITIES:
            raise ReviewError(f"severity must be one of {', '.join(SEVERITIES)}, got {self.severity!r}")
        if self.limit is not None and not 0 < self.limit <= MAX_LIMIT:
            raise ReviewError(f"limit must be between 1 and {MAX_LIMIT}, got {self.limit}")

    def selection(self, *, matched_only: bool) -> articles.Selection:
        """The articles this filter keeps, as the store selects them."""
        severities = None
        if self.severity is not None:
            floor = severity_rank(self.severity)
            severities = tuple(s for s in SEVERITIES if severity_rank(s) >= floor)
        return articles.Selection(
            rule=self.rule,
            feed=self.feed,
            severities=severities,
            since=self.since,
            matched_only=matched_only,
            unreviewed=self.unreviewed,
            tag=self.tag,
        )


def parse_since(text: str, now: datetime) -> str:
    """``2d``/``12h`` (ago), a date ``2026-11-01`` or an ISO datetime -> ISO UTC string."""
    text = text.strip()
    try:
        return (now - timedelta(seconds=parse_duration(text))).astimezone(timezone.utc).isoformat()
    except DurationError:
        pass
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            moment = datetime.combine(date.fromisoformat(text), time(), timezone.utc)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
    except ValueError:
        raise ReviewError(
            f'--since {text!r}: write a period such as "2d" or "12h", or a date such as "2026-11-01"'
        ) from None
    return moment.astimezone(timezone.utc).isoformat()


@dataclass(frozen=True)
class LogRow:
    story_id: int | None
    article_id: int  # the story's first matched article (within the filter)
    seen: str  # when the story's newest matching article was fetched
    severity: str  # highest severity among the story's matches
    rules: tuple[str, ...]  # every rule any member matched
    title: str
    feed: str
    url: str
    outlets: int  # distinct feeds among the story's members
    members: int
    alerts: tuple[tuple[str, int], ...]  # (status, count), e.g. (("sent", 2),)
    other_feeds: tuple[str, ...] = ()  # the other outlets carrying the story (first five)
    no_alert: str | None = None  # why it matched without alerting (baseline, too old)
    tags: tuple[str, ...] = ()  # the tags of the feed of the story's first matched article

    @property
    def alert_status(self) -> str:
        if not self.alerts:
            return BASELINE if self.no_alert else "none"
        return " · ".join(status if n == 1 else f"{status} {n}" for status, n in self.alerts)


def matched_stories(store: Store, flt: Filter) -> tuple[LogRow, ...]:
    """Matched stories, newest first: one row per story (or per lone article),
    read in a few queries for the whole page (not a few per row)."""
    groups = stories.logged(store, flt.selection(matched_only=True), flt.limit)
    keys = [story_id or -article_id for story_id, article_id, _ in groups]
    heads = articles.headlines(store, [article_id for _, article_id, _ in groups])
    members = stories.group_members(store, keys)
    matches = stories.group_matches(store, keys)
    alerts = stories.group_alerts(store, keys)
    return tuple(
        _row(
            story_id,
            article_id,
            seen,
            heads.get(article_id) or {"title": None, "url": "", "feed": ""},
            members[key],
            matches[key],
            alerts[key],
        )
        for key, (story_id, article_id, seen) in zip(keys, groups, strict=True)
    )


def _row(
    story_id: int | None,
    article_id: int,
    seen: str,
    head: dict,
    members: list[tuple[int, int | None, str | None, str | None]],
    rules: list[tuple[str, str]],
    alerts: list[tuple[str, int]],
) -> LogRow:
    others = [name for _, _, name, _ in members if name is not None and name != head["feed"]]
    return LogRow(
        story_id=story_id,
        article_id=article_id,
        seen=seen,
        severity=max((severity for _, severity in rules), key=severity_rank, default="low"),
        rules=tuple(dict.fromkeys(rule_id for rule_id, _ in rules)),
        title=head["title"] or "(untitled)",
        feed=head["feed"],
        url=head["url"],
        outlets=len({feed_id for _, feed_id, _, _ in members if feed_id is not None}),
        members=len(members),
        alerts=tuple(alerts),
        other_feeds=tuple(dict.fromkeys(others))[:OTHER_OUTLETS],  # first carrier first
        no_alert=next((why for _, _, _, why in members if why is not None), None),
        tags=_tags(head.get("feed_tags")),
    )


def _tags(text: str | None) -> tuple[str, ...]:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return ()
    return tuple(t for t in value if isinstance(t, str)) if isinstance(value, list) else ()


def verdicts(store: Store, article_ids: Iterable[int]) -> dict[int, str]:
    """The newest verdict on each of ``article_ids`` that has one."""
    return verdict_rows.latest(store, article_ids)
