"""Delivering the outbox to real loopback servers: retries, dead rows, digests,
crash recovery, and channels that do not wait for each other."""

from __future__ import annotations

import random
import threading

import alerts_support
from alerts_support import NOW, Clock, Webhook, open_store, queue_story, write_config
from support import wait_for

from watcher.notify.sender import Sender
from watcher.store import alerts as alert_rows


def two_hooks(tmp_path, a: Webhook, b: Webhook, *, extra: str = "", alerts: str = ""):
    """Two webhook channels, retried quickly unless ``alerts`` says otherwise."""
    quick = 'max_attempts = 4\nbackoff = "1m"\nmax_backoff = "10m"'
    return alerts_support.two_hooks(tmp_path, a, b, extra=extra, alerts=alerts or quick)


def statuses(store, channel):
    return [
        r["status"]
        for r in store.query("SELECT status FROM alerts WHERE channel = ? ORDER BY id", (channel,))
    ]


def test_one_channel_down_the_other_gets_each_alert_once_and_the_failed_one_catches_up(tmp_path, hooks):
    up, down = hooks
    cfg = two_hooks(tmp_path, up, down)
    store = open_store(cfg)
    clock = Clock()
    sender = Sender(store, cfg, clock, rng=random.Random(3))
    titles = [f"Story {i}" for i in range(3)]
    for title in titles:
        queue_story(store, cfg, title)
    down.status = 500

    first = sender.drain(clock())
    assert (first.sent, first.failed, first.dead, first.held) == (3, 1, 0, 2)
    assert down.requests == 1  # the rest of team-b's batch was not hammered
    for _ in range(2):  # still down at the next two probes: one alert tries it each time
        clock.advance(minutes=30)
        sender.drain(clock())
    assert down.requests == 3
    assert statuses(store, "team-b") == ["pending"] * 3
    rows = store.query("SELECT * FROM alerts WHERE channel = 'team-b'")
    assert [r["attempts"] for r in rows] == [1, 1, 1]  # each tried once: untried alerts spend nothing
    assert all("500" in r["last_error"] for r in rows)

    down.status = 200
    clock.advance(minutes=30)
    assert sender.drain(clock()).sent == 3
    clock.advance(hours=5)
    assert sender.drain(clock()).sent == 0
    assert sorted(t.split("] ", 1)[1] for t in up.titles()) == titles  # once each
    assert sorted(t.split("] ", 1)[1] for t in down.titles()) == titles  # once each, after recovery
    assert statuses(store, "team-a") == statuses(store, "team-b") == ["sent"] * 3


def test_after_the_retry_limit_alerts_are_dead_and_a_retry_sends_them(tmp_path, hooks):
    up, down = hooks
    cfg = two_hooks(tmp_path, up, down, alerts='max_attempts = 2\nbackoff = "1m"\ngive_up_after = "1h"')
    store = open_store(cfg)
    clock = Clock()
    sender = Sender(store, cfg, clock, rng=random.Random(1))
    queue_story(store, cfg, "Story")
    down.status = 500
    sender.drain(clock())
    clock.advance(minutes=5)
    summary = sender.drain(clock())  # tried twice, but queued only 5 minutes ago: not dead yet
    assert summary.dead == 0 and statuses(store, "team-b") == ["pending"]
    clock.advance(hours=2)
    summary = sender.drain(clock())  # tried max_attempts times AND give_up_after has passed
    assert summary.dead == 1 and statuses(store, "team-b") == ["dead"]
    clock.advance(days=3)
    assert sender.drain(clock()).sent == 0  # dead stays dead
    down.status = 200
    assert alert_rows.retry(store, clock(), dead=True) == 1
    assert sender.drain(clock()).sent == 1
    assert len(down.titles()) == 1 and len(up.titles()) == 1


def test_rows_left_sending_by_a_crash_are_sent_after_restart(tmp_path, hooks):
    a, b = hooks
    cfg = two_hooks(tmp_path, a, b)
    store = open_store(cfg)
    queue_story(store, cfg, "Story")
    assert len(alert_rows.claim_immediate(store, NOW)) == 2  # the process dies here
    store.close()
    store = open_store(cfg)
    summary = Sender(store, cfg, Clock()).drain(NOW)  # a new process
    assert summary.sent == 2 and len(a.titles()) == len(b.titles()) == 1


def test_an_alert_for_a_removed_channel_is_dead_with_a_reason(tmp_path, hooks):
    a, b = hooks
    cfg = two_hooks(tmp_path, a, b)
    store = open_store(cfg)
    queue_story(store, cfg, "Story")
    smaller = write_config(tmp_path, f'[[channels]]\nname = "team-a"\nurl = "{a.url("a")}"')
    Sender(store, smaller, Clock()).drain(NOW)
    [row] = store.query("SELECT * FROM alerts WHERE channel = 'team-b'")
    assert row["status"] == "dead" and "no longer in the configuration" in row["last_error"]


def test_a_slow_mail_server_holds_up_neither_the_webhook_nor_database_writes(tmp_path, hooks, mailbox):
    hook = hooks[0]
    cfg = write_config(
        tmp_path,
        f"""
[[channels]]
name = "mail"
url = "{mailbox.url()}"

[[channels]]
name = "hook"
url = "{hook.url()}"
""",
    )
    store = open_store(cfg)
    queue_story(store, cfg, "Story 1")
    mailbox.gate.clear()  # the SMTP server stops answering DATA
    sender = Sender(store, cfg, Clock(), wake_every=0.05)
    sender.start()
    try:
        wait_for(mailbox.entered.is_set)
        wait_for(lambda: len(hook.titles()) == 1)
        # The mail is still stuck, yet the webhook's alert is committed as sent...
        assert not mailbox.gate.is_set() and mailbox.mails == []
        other = open_store(cfg)
        wait_for(lambda: statuses(other, "hook") == ["sent"])
        assert statuses(other, "mail") == ["sending"]
        # ...and the pipeline can store a new story and its alerts meanwhile.
        queue_story(other, cfg, "Story 2")
        sender.wake()
        wait_for(lambda: len(hook.titles()) == 2)
        assert mailbox.mails == []
        mailbox.gate.set()
        wait_for(lambda: statuses(other, "mail") == ["sent", "sent"])
        assert sorted(m.subject for m in mailbox.mails) == [
            "[Turkey–Syria defence] Story 1",
            "[Turkey–Syria defence] Story 2",
        ]
    finally:
        assert sender.stop(timeout=30)


def test_digest_sends_one_message_per_period_listing_every_story(tmp_path, hooks):
    hook, instant = hooks
    cfg = write_config(
        tmp_path,
        f"""
[[channels]]
name = "hourly"
url = "{hook.url()}"
mode = "digest"
digest_every = "1h"

[[channels]]
name = "instant"
url = "{instant.url()}"
""",
    )
    store = open_store(cfg)
    clock = Clock()  # 06:00
    sender = Sender(store, cfg, clock)
    for i in range(3):
        clock.advance(minutes=10)
        queue_story(store, cfg, f"Story {i}", now=clock())
    assert sender.drain(clock()).sent == 3 and hook.posts == []  # instant ones only
    clock.advance(minutes=29)  # 07:00 - 1 minute
    sender.drain(clock())
    assert hook.posts == []
    clock.advance(minutes=2)  # 07:01
    summary = sender.drain(clock())
    assert (summary.sent, summary.digests) == (3, 1)
    [post] = hook.posts
    assert post.payload["title"] == "[watcher] 3 new stories for hourly"
    assert all(f"Story {i} " in post.payload["message"] for i in range(3))
    assert statuses(store, "hourly") == ["sent"] * 3
    queue_story(store, cfg, "Story 3", now=clock())
    clock.advance(hours=1)
    sender.drain(clock())
    assert len(hook.posts) == 2 and "Story 3" in hook.posts[1].payload["message"]


def test_a_failed_digest_keeps_every_item_for_the_next_try(tmp_path, hooks):
    hook = hooks[0]
    cfg = write_config(
        tmp_path,
        f"""
[[channels]]
name = "daily"
url = "{hook.url()}"
mode = "digest"
digest_every = "08:00"
""",
        alerts='backoff = "1m"',
    )
    store = open_store(cfg)
    clock = Clock()
    sender = Sender(store, cfg, clock)
    for i in range(4):
        queue_story(store, cfg, f"Story {i}", now=clock())
    hook.status = 500
    clock.advance(hours=2, minutes=1)  # 08:01
    assert sender.drain(clock()).failed == 4
    # A crash in the middle of the next try: rows claimed, never marked.
    clock.advance(minutes=5)
    assert len(alert_rows.claim_digests(store, clock())["daily"]) == 4
    hook.status = 200
    summary = Sender(store, cfg, clock).drain(clock())  # restart
    assert (summary.sent, summary.digests) == (4, 1)
    [post] = hook.posts
    assert all(f"Story {i} " in post.payload["message"] for i in range(4))


def test_a_digest_too_long_for_one_message_is_split_and_nothing_is_lost(tmp_path, hooks):
    hook = hooks[0]
    cfg = write_config(
        tmp_path,
        f"""
[[channels]]
name = "hourly"
url = "{hook.url()}"
mode = "digest"
""",
    )
    store = open_store(cfg)
    for i in range(400):
        queue_story(store, cfg, f"Story number {i} " + "x" * 60)
    clock = Clock()
    clock.advance(hours=1)
    summary = Sender(store, cfg, clock).drain(clock())
    assert summary.sent == 400 and summary.digests >= 2
    body = "\n".join(p.payload["message"] for p in hook.posts)
    assert all(f"Story number {i} " in body for i in range(400))
    assert all(len(p.payload["message"]) <= 32768 for p in hook.posts)


def test_background_workers_wake_on_demand_and_stop(tmp_path, hooks):
    a, b = hooks
    cfg = two_hooks(tmp_path, a, b)
    store = open_store(cfg)
    sender = Sender(store, cfg, Clock(), wake_every=3600)  # only wake() makes them look again
    sender.start()
    try:
        names = {t.name for t in threading.enumerate()}
        assert {"alerts-team-a", "alerts-team-b"} <= names
        queue_story(store, cfg, "Story")
        sender.wake()
        wait_for(lambda: len(a.titles()) == len(b.titles()) == 1)
    finally:
        assert sender.stop(timeout=10)
    assert not {"alerts-team-a", "alerts-team-b"} & {t.name for t in threading.enumerate()}


def test_a_daily_email_digest_arrives_as_one_html_mail(tmp_path, mailbox):
    cfg = write_config(
        tmp_path,
        f"""
[[channels]]
name = "morning"
url = "{mailbox.url()}"
mode = "digest"
digest_every = "08:00"
format = "html"
""",
    )
    store = open_store(cfg)
    clock = Clock()  # 06:00
    sender = Sender(store, cfg, clock)
    queue_story(store, cfg, "Pact <signed> & sealed", now=clock())
    queue_story(store, cfg, "Second @everyone story", now=clock())
    sender.drain(clock())
    assert mailbox.mails == []
    clock.advance(hours=2)  # 08:00
    assert sender.drain(clock()).digests == 1
    [mail] = mailbox.mails
    assert mail.subject == "[watcher] 2 new stories for morning"
    assert "Pact &lt;signed&gt; &amp; sealed" in mail.html and "<signed>" not in mail.html
    assert "@everyone" not in mail.html and "Second @\u200beveryone story" in mail.html
    assert mail.html.count('<a href="https://news.example/') == 2
