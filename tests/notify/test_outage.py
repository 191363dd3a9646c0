"""Alerts survive outages: of a channel (issue 15 item 14: a circuit breaker,
untried alerts spend nothing, dead only after max_attempts AND give_up_after)
and of the database (item 10: every change of an outbox row survives a busy
database). Real loopback webhooks, the real sender, a driven clock."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections import Counter

from alerts_support import Clock, open_store, queue_story, two_hooks, write_config
from support import wait_for

from watcher.notify.sender import Sender
from watcher.store import alerts as alert_rows


def headlines(hook) -> Counter:
    return Counter(t.split("] ", 1)[1] for t in hook.titles())


def statuses(store, channel: str) -> Counter:
    return Counter(
        r["status"] for r in store.query("SELECT status FROM alerts WHERE channel = ?", (channel,))
    )


def test_item14_six_hour_outage_loses_nothing(tmp_path, hooks):
    """team-b is down for six hours of driven clock time with the default
    [alerts] settings while alerts keep coming: it is probed by one alert at a
    time (not hammered), nothing dies, and after it recovers every alert
    arrives exactly once, without `watcher alerts retry`."""
    up, down = hooks
    cfg = two_hooks(tmp_path, up, down)  # the defaults: 8 attempts, 30 s doubling, 48 h budget
    assert cfg.alerts.max_attempts == 8 and cfg.alerts.give_up_after == 48 * 3600
    store = open_store(cfg)
    clock = Clock()
    sender = Sender(store, cfg, clock, rng=random.Random(14))
    down.status = 503
    titles = []
    for i in range(6):  # queued when the outage begins
        titles.append(f"Story {i}")
        queue_story(store, cfg, titles[-1], now=clock())
    step, outage = 2, 6 * 60
    for minute in range(0, outage, step):
        if minute % 60 == 30:  # more news during the outage
            titles.append(f"Story {len(titles)}")
            queue_story(store, cfg, titles[-1], now=clock())
        summary = sender.drain(clock())
        assert summary.dead == 0
        clock.advance(minutes=step)
    during = down.requests
    assert statuses(store, "team-b") == Counter(pending=len(titles))
    assert headlines(up) == Counter(titles)  # team-a never waited for team-b
    # One alert at a time probes team-b, at a doubling interval capped at 10 minutes:
    # not one try per alert per pass.
    assert 6 * 6 <= during <= 6 * 6 + 12, during
    tries = [r["attempts"] for r in store.query("SELECT attempts FROM alerts WHERE channel = 'team-b'")]
    assert sum(tries) == during and max(tries) < cfg.alerts.max_attempts

    down.status = 200
    for _ in range(15):  # the next probe is at most 10 minutes away
        sender.drain(clock())
        if statuses(store, "team-b") == Counter(sent=len(titles)):
            break
        clock.advance(minutes=1)
    assert statuses(store, "team-b") == Counter(sent=len(titles))
    assert headlines(down) == Counter(titles)  # every alert exactly once
    assert alert_rows.counts(store)["dead"] == 0


def test_item14_an_alert_dies_only_after_its_own_tries_and_the_time_budget(tmp_path, hooks):
    up, down = hooks
    cfg = two_hooks(tmp_path, up, down, alerts='max_attempts = 2\ngive_up_after = "2h"')
    store = open_store(cfg)
    clock = Clock()
    sender = Sender(store, cfg, clock, rng=random.Random(2))
    down.status = 500
    queue_story(store, cfg, "Lone story", now=clock())
    for _ in range(10):  # tried over and over for 100 minutes: well past 2 attempts
        sender.drain(clock())
        clock.advance(minutes=10)
    [row] = store.query("SELECT * FROM alerts WHERE channel = 'team-b'")
    assert row["status"] == "pending" and row["attempts"] >= 2  # the 2 h budget is not spent
    clock.advance(hours=1)
    sender.drain(clock())
    assert statuses(store, "team-b") == Counter(dead=1)


def test_item14_one_bad_alert_does_not_hold_up_a_working_channel(tmp_path, hook):
    """A message the service refuses is that alert's trouble: the next probe
    (another alert) goes through, the channel closes, and the refused alert
    keeps its own backoff instead of re-opening the circuit on every pass."""
    cfg = write_config(tmp_path, f'[[channels]]\nname = "team"\nurl = "{hook.url("t")}"')
    store = open_store(cfg)
    clock = Clock()
    sender = Sender(store, cfg, clock, rng=random.Random(3))
    hook.answer = lambda payload: 400 if "Poison" in payload.get("title", "") else 200
    queue_story(store, cfg, "Poison", now=clock())
    sender.drain(clock())
    for i in range(5):
        queue_story(store, cfg, f"Story {i}", now=clock())
    for _ in range(10):
        clock.advance(seconds=40)
        sender.drain(clock())
    assert headlines(hook) == Counter(f"Story {i}" for i in range(5))
    # The refused one was tried on its own backoff (30 s, 1, 2, 4 min, ±20 %: at most 5
    # tries in these 400 s), not on each of the 11 passes.
    [poison] = store.query("SELECT * FROM alerts WHERE status != 'sent'")
    assert poison["status"] == "pending" and 2 <= poison["attempts"] <= 5


class LockOnce:
    """Called by the webhook as it receives a post: the first time, another
    connection takes the database's write lock and holds it for ``seconds``,
    or until ``let_go`` is set when that is given."""

    def __init__(self, db, seconds: float, let_go: threading.Event | None = None) -> None:
        self.db, self.seconds, self.let_go = db, seconds, let_go
        self.taken = threading.Event()
        self.released = threading.Event()

    def __call__(self) -> None:
        if self.taken.is_set():
            return
        self.taken.set()
        locker = sqlite3.connect(self.db, isolation_level=None, check_same_thread=False)
        locker.execute("BEGIN IMMEDIATE")

        def let_go():
            if self.let_go is None:
                time.sleep(self.seconds)
            else:
                self.let_go.wait(timeout=120)
            locker.execute("COMMIT")
            locker.close()
            self.released.set()

        threading.Thread(target=let_go, daemon=True).start()


def test_item10_busy_database_never_leaves_an_alert_sending_nor_sends_it_twice(tmp_path, hooks):
    """While the webhook answers, another writer holds the database ten times
    longer than the sender's busy timeout: `sent` is recorded once the lock
    is free, nothing stays `sending`, and no alert goes out twice, in
    `run --once`'s pass and in the daemon's background workers."""
    a, b = hooks
    cfg = two_hooks(tmp_path, a, b)
    store = open_store(cfg)
    queue_story(store, cfg, "First story")
    a.on_post = lock = LockOnce(cfg.database, 1.0)
    clock = Clock()
    sender = Sender(store, cfg, clock, busy_timeout=0.1, rng=random.Random(10))

    summary = sender.drain(clock())
    assert lock.released.is_set()  # the lock was held while the sender recorded the send
    assert summary.sent == 2 and summary.errors == 0
    assert statuses(store, "team-a") == statuses(store, "team-b") == Counter(sent=1)

    # The daemon's workers: the same while they run on their own.
    b.on_post = lock = LockOnce(cfg.database, 1.0)
    worker = Sender(store, cfg, clock, busy_timeout=0.1, wake_every=0.05, rng=random.Random(11))
    worker.start()
    try:
        queue_story(store, cfg, "Second story")
        worker.wake()
        wait_for(lambda: statuses(store, "team-b") == Counter(sent=2), timeout=60)
        assert lock.released.is_set()
    finally:
        assert worker.stop()
    assert statuses(store, "team-a") == Counter(sent=2) and alert_rows.counts(store)["sending"] == 0
    assert headlines(a) == headlines(b) == Counter(["First story", "Second story"])


def test_item10_past_all_patience_the_change_waits_in_memory_and_nothing_is_sent_twice(tmp_path, hooks):
    """The database stays busy longer than the sender will retry: the `sent`
    it could not record waits in the worker's memory (the row is not handed
    back to be sent again) and is recorded at the next pass."""
    a, b = hooks
    cfg = two_hooks(tmp_path, a, b)
    store = open_store(cfg)
    queue_story(store, cfg, "Story")
    done = threading.Event()  # the lock outlasts the first pass however slow the machine
    a.on_post = lock = LockOnce(cfg.database, 0, let_go=done)
    clock = Clock()
    sender = Sender(store, cfg, clock, busy_timeout=0.05, busy_patience=0.1, rng=random.Random(12))
    first = sender.drain(clock())
    done.set()
    assert first.errors >= 1  # the `sent` of what went out waits in memory
    assert alert_rows.counts(store)["sending"] >= 1  # not handed back to pending: not sent again
    wait_for(lock.released.is_set)
    second = sender.drain(clock())
    # team-b runs in parallel: its claim may have met the lock too, so it may
    # send only now; team-a's post is recorded, never sent again
    assert second.errors == 0
    assert first.sent + second.sent <= 2
    assert statuses(store, "team-a") == statuses(store, "team-b") == Counter(sent=1)
    assert len(a.titles()) == len(b.titles()) == 1
