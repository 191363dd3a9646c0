"""A story that spreads: alert again, once, when an alerted story is reported by many outlets or
in a new language (a rule's ``spread = { outlets = 5, new_language = true, within = "48h" }``).

Called by the pipeline for every article that joins a story which has already matched: when one
of the story's rules asks for it and the story, within ``within`` of opening, has reached
``outlets`` outlets (feeds), or this article brings a language no earlier member was in, one more
alert per channel is queued under the key ``story:channel:spread`` (so it is sent once, ever).
The message says "now reported by 5 outlets in 3 languages" (:func:`describe`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from watcher.config import ChannelConfig
from watcher.notify.outbox import due_at
from watcher.store import alerts, stories

SUFFIX = ":spread"


class _Routed:
    """What channel routing reads of a rule (its id, severity and channels)."""

    def __init__(self, rule) -> None:
        self.rule_id = rule.id
        self.severity = rule.severity
        self.channels = rule.channels


def check(
    store,
    rules,
    *,
    story_id: int,
    article_id: int,
    channels: Sequence[ChannelConfig],
    now: datetime,
    feed_tags: Sequence[str] = (),
) -> int:
    """Queue the spread alerts this article triggers; returns how many were new. ``rules`` is
    the rule set (its rules' ``spread`` settings); ``feed_tags`` the tags of the article's feed
    (a channel with ``feed_tags`` takes only articles of such feeds, as for first alerts).
    Call inside the article's transaction."""
    from watcher.notify.outbox import route

    story_rules = set(stories.rules(store, story_id) or ())
    wanted = [r for r in rules.rules if r.id in story_rules and getattr(r, "spread", None) is not None]
    if not wanted or not channels or not alerts.story_alerted(store, story_id):
        return 0
    facts = stories.reach(store, story_id, article_id)
    if facts is None:
        return 0
    opened = datetime.fromisoformat(facts["created_at"])
    new_language = bool(facts["language"]) and facts["language"] not in facts["earlier_languages"]
    added = 0
    for rule in wanted:
        setting = rule.spread
        if (now - opened).total_seconds() > setting.within:
            continue
        outlets_reached = setting.outlets is not None and facts["outlets"] >= setting.outlets
        if not (outlets_reached or (setting.new_language and new_language and facts["earlier_languages"])):
            continue
        for channel in route(channels, [_Routed(rule)], feed_tags):
            due = due_at(channel, now)
            added += alerts.add(
                store,
                key=f"{story_id}:{channel.name}{SUFFIX}",
                story_id=story_id,
                article_id=article_id,
                channel=channel.name,
                mode=channel.mode,
                due=due,
                now=now,
                severity=rule.severity,  # a critical rule's spread passes quiet hours, as its first alert
            )
    return added


def describe(store, story_id: int) -> str:
    """ "now reported by 5 outlets in 3 languages (en, tr, ar)"."""
    facts = stories.reach(store, story_id, None)
    if facts is None:
        return ""
    languages = facts["languages"]
    text = f"now reported by {facts['outlets']} outlet{'s' if facts['outlets'] != 1 else ''}"
    if languages:
        text += f" in {len(languages)} language{'s' if len(languages) != 1 else ''} ({', '.join(languages)})"
    return text
