"""Calm notifications (issue 10): per-channel quiet hours in the channel's
own time zone (alerts wait and go out as one digest when they end; critical
ones still go through) and an hourly cap (the overflow folded into one digest
message, never dropped). Real sender, real loopback webhook, driven clock."""

from __future__ import annotations

import random
from datetime import datetime, timezone

from alerts_support import Clock, open_store, queue_story, write_config

from watcher.notify.sender import Sender


def channel(hook, extra: str) -> str:
    return f'[[channels]]\nname = "desk"\nurl = "{hook.url("desk")}"\n{extra}\n'


def listed(hook, headline: str) -> int:
    """How many messages the webhook got that carry ``headline`` (alone or in a digest)."""
    return sum(headline in p.payload.get("title", "") + p.payload.get("message", "") for p in hook.posts)


def test_quiet_hours_hold_alerts_for_one_digest_but_not_critical_ones(tmp_path, hook):
    cfg = write_config(tmp_path, channel(hook, 'quiet_hours = "22:00-07:00"\ntimezone = "Europe/Istanbul"'))
    store = open_store(cfg)
    clock = Clock(datetime(2026, 3, 10, 20, 0, tzinfo=timezone.utc))  # 23:00 in Istanbul (UTC+3)
    sender = Sender(store, cfg, clock, rng=random.Random(1))
    queue_story(store, cfg, "Night story one", now=clock())
    queue_story(store, cfg, "Border clash reported", severity="critical", now=clock())
    clock.advance(hours=3)
    queue_story(store, cfg, "Night story two", now=clock())
    sender.drain(clock())
    assert hook.titles() == ["[Turkey–Syria defence] Border clash reported"]  # critical: at once
    clock.advance(hours=4, minutes=20)  # 03:20 UTC = 06:20 in Istanbul: still quiet
    assert sender.drain(clock()).sent == 0
    clock.advance(minutes=45)  # 07:05 in Istanbul: the quiet hours are over
    summary = sender.drain(clock())
    assert (summary.sent, summary.digests) == (2, 1)
    digest = hook.posts[-1].payload
    assert digest["title"] == "[watcher] 2 new stories for desk"
    assert "held during quiet hours" in digest["message"]
    assert listed(hook, "Night story one") == listed(hook, "Night story two") == 1
    queue_story(store, cfg, "Morning story", now=clock())
    sender.drain(clock())
    assert hook.titles()[-1] == "[Turkey–Syria defence] Morning story"  # the day: one by one again


def test_the_hourly_cap_folds_the_overflow_into_one_message_and_drops_nothing(tmp_path, hook):
    cfg = write_config(tmp_path, channel(hook, "max_per_hour = 3"))
    store = open_store(cfg)
    clock = Clock()
    sender = Sender(store, cfg, clock, rng=random.Random(2))
    burst = [f"Burst story {i}" for i in range(7)]
    for title in burst:
        queue_story(store, cfg, title, now=clock())
    summary = sender.drain(clock())
    assert len(hook.posts) == 3 and summary.sent == 7
    assert hook.posts[-1].payload["title"] == "[watcher] 5 new stories for desk"
    assert "over this channel's 3 messages an hour" in hook.posts[-1].payload["message"]
    assert all(listed(hook, title) == 1 for title in burst)

    clock.advance(minutes=20)
    late = [f"Late story {i}" for i in range(2)]
    for title in late:
        queue_story(store, cfg, title, now=clock())
    assert sender.drain(clock()).sent == 0  # the hour's three messages are spent: they wait
    clock.advance(minutes=41)  # an hour after the burst
    assert sender.drain(clock()).sent == 2
    assert len(hook.posts) == 5 and all(listed(hook, title) == 1 for title in late)


def test_quiet_hours_follow_the_channels_zone_across_a_daylight_saving_change(tmp_path, hook):
    """New York moves its clocks on at 02:00 on 8 March 2026: quiet hours
    22:00-07:00 that night run from 03:00 to 11:00 UTC (not to 12:00, as a
    fixed -05:00 offset would have it)."""
    cfg = write_config(tmp_path, channel(hook, 'quiet_hours = "22:00-07:00"\ntimezone = "America/New_York"'))
    store = open_store(cfg)
    clock = Clock(datetime(2026, 3, 8, 3, 30, tzinfo=timezone.utc))  # 22:30 EST, 7 March
    sender = Sender(store, cfg, clock, rng=random.Random(3))
    queue_story(store, cfg, "Late story one", now=clock())
    queue_story(store, cfg, "Late story two", now=clock())
    assert sender.drain(clock()).sent == 0
    clock.advance(hours=7)  # 10:30 UTC = 06:30 EDT: still quiet
    assert sender.drain(clock()).sent == 0 and hook.posts == []
    clock.advance(minutes=35)  # 11:05 UTC = 07:05 EDT: over
    assert sender.drain(clock()).sent == 2
    assert [p.payload["title"] for p in hook.posts] == ["[watcher] 2 new stories for desk"]


def test_critical_alerts_count_toward_the_cap_but_are_never_held_by_it(tmp_path, hook):
    cfg = write_config(tmp_path, channel(hook, "max_per_hour = 2"))
    store = open_store(cfg)
    clock = Clock()
    sender = Sender(store, cfg, clock, rng=random.Random(4))
    for i in range(3):
        queue_story(store, cfg, f"Routine story {i}", now=clock())
    for i in range(3):
        queue_story(store, cfg, f"Border clash {i}", severity="critical", now=clock())
    summary = sender.drain(clock())
    critical = [t for t in hook.titles() if "Border clash" in t]
    assert len(critical) == 3 and summary.sent == 3  # all three at once, past the cap of 2
    assert not [t for t in hook.titles() if "Routine" in t]  # the hour is spent: they wait
    clock.advance(minutes=61)
    assert sender.drain(clock()).sent == 3
    assert len(hook.posts) == 5  # one alone, then the other two folded into the hour's last message
    assert hook.posts[-1].payload["title"] == "[watcher] 2 new stories for desk"
    assert all(listed(hook, f"Routine story {i}") == 1 for i in range(3))
