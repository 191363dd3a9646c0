"""The outbox rows: routing, idempotency, claiming, backoff, dead, recovery, retry."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from alerts_support import NOW, FakeMatch, add_article, open_store, write_config

from watcher.config import AlertsConfig
from watcher.notify import outbox
from watcher.store import alerts as alert_rows

CHANNELS = """
[[channels]]
name = "all"
url = "json://127.0.0.1:9/a"

[[channels]]
name = "critical-only"
url = "json://127.0.0.1:9/b"
severity = "critical"

[[channels]]
name = "defence"
url = "json://127.0.0.1:9/c"
rules = ["tr-sy-defence"]
severity = "medium"

[[channels]]
name = "named-only"
url = "json://127.0.0.1:9/d"
rules = []

[[channels]]
name = "daily"
url = "json://127.0.0.1:9/e"
mode = "digest"
digest_every = "08:00"
"""


@pytest.fixture
def setup(tmp_path):
    cfg = write_config(
        tmp_path,
        CHANNELS,
        alerts='max_attempts = 3\nbackoff = "30s"\nmax_backoff = "10m"\ngive_up_after = "1m"',
    )
    store = open_store(cfg)
    yield cfg, store
    store.close()


def names(channels):
    return [c.name for c in channels]


def test_routing_by_rule_severity_and_rule_named_channels(setup):
    cfg, _ = setup
    route = lambda *m: names(outbox.route(cfg.channels, m))  # noqa: E731
    assert route(FakeMatch("tr-sy-defence", severity="high")) == ["all", "defence", "daily"]
    assert route(FakeMatch("tr-sy-defence", severity="low")) == ["all", "daily"]
    assert route(FakeMatch("other", severity="critical")) == ["all", "critical-only", "daily"]
    assert route(FakeMatch("other", severity="low", channels=("named-only",))) == [
        "all",
        "named-only",
        "daily",
    ]
    assert route() == []


def test_enqueue_is_idempotent_per_story_and_channel(setup):
    cfg, store = setup
    story, article = add_article(store, title="t")
    with store.atomic() as db:
        assert (
            outbox.enqueue(
                db,
                story_id=story,
                article_id=article,
                matches=[FakeMatch("tr-sy-defence")],
                channels=cfg.channels,
                now=NOW,
            )
            == 3
        )
        assert (
            outbox.enqueue(
                db,
                story_id=story,
                article_id=article,
                matches=[FakeMatch("tr-sy-defence")],
                channels=cfg.channels,
                now=NOW,
            )
            == 0
        )
    keys = sorted(r["idempotency_key"] for r in store.query("SELECT * FROM alerts"))
    assert keys == [f"{story}:all", f"{story}:daily", f"{story}:defence"]
    # A later article of the same story (re-alert for a new rule) gets its own row, once.
    _, later = add_article(store, title="t2", story_id=story)
    with store.atomic() as db:
        assert (
            outbox.enqueue(
                db,
                story_id=story,
                article_id=later,
                matches=[FakeMatch("x", severity="low")],
                channels=cfg.channels,
                now=NOW,
            )
            == 2
        )
        assert (
            outbox.enqueue(
                db,
                story_id=story,
                article_id=later,
                matches=[FakeMatch("x", severity="low")],
                channels=cfg.channels,
                now=NOW,
            )
            == 0
        )
    assert store.db.execute("SELECT count(*) FROM alerts").fetchone()[0] == 5


def test_enqueue_rolls_back_with_the_callers_transaction(setup):
    cfg, store = setup
    story, article = add_article(store, title="t")
    with pytest.raises(RuntimeError), store.atomic() as db:
        outbox.enqueue(
            db,
            story_id=story,
            article_id=article,
            matches=[FakeMatch("tr-sy-defence")],
            channels=cfg.channels,
            now=NOW,
        )
        raise RuntimeError("crash before the match was stored")
    assert store.query("SELECT * FROM alerts") == []


def test_digest_rows_wait_for_the_end_of_their_period(setup):
    cfg, store = setup
    story, article = add_article(store, title="t")
    with store.atomic() as db:
        outbox.enqueue(
            db,
            story_id=story,
            article_id=article,
            matches=[FakeMatch("tr-sy-defence")],
            channels=cfg.channels,
            now=NOW,
        )
    row = store.query("SELECT * FROM alerts WHERE channel = 'daily'")[0]
    assert (row["mode"], row["next_attempt_at"]) == ("digest", "2025-11-21T08:00:00+00:00")
    assert [r["channel"] for r in alert_rows.claim_immediate(store, NOW)] == ["all", "defence"]
    assert alert_rows.claim_digests(store, NOW) == {}
    groups = alert_rows.claim_digests(store, NOW + timedelta(hours=2))
    assert [r["id"] for r in groups["daily"]] == [row["id"]]


@pytest.mark.parametrize(
    "every, now, due",
    [
        ("08:00", "2026-11-21T06:00:00", "2026-11-21T08:00:00"),
        ("08:00", "2026-11-21T08:00:00", "2026-11-22T08:00:00"),
        ("08:00", "2026-11-21T23:59:00", "2026-11-22T08:00:00"),
        ("1h", "2026-11-21T06:00:00", "2026-11-21T07:00:00"),
        ("1h", "2026-11-21T06:59:59", "2026-11-21T07:00:00"),
        ("15m", "2026-11-21T06:16:00", "2026-11-21T06:30:00"),
        ("1d", "2026-11-21T06:16:00", "2026-11-22T00:00:00"),
    ],
)
def test_digest_period_ends(every, now, due):
    at = datetime.fromisoformat(now).replace(tzinfo=timezone.utc)
    assert outbox.digest_due(every, at) == datetime.fromisoformat(due).replace(tzinfo=timezone.utc)


def test_failures_back_off_with_jitter_then_die(setup):
    cfg, store = setup
    story, article = add_article(store, title="t")
    with store.atomic() as db:
        outbox.enqueue(
            db,
            story_id=story,
            article_id=article,
            matches=[FakeMatch("x", severity="low")],
            channels=cfg.channels[:1],
            now=NOW,
        )
    rng = random.Random(7)
    now, delays = NOW, []
    for attempt in range(1, 4):
        [row] = alert_rows.claim_immediate(store, now)
        status = outbox.mark_failed(store, [row["id"]], f"HTTP 500 #{attempt}", now, cfg.alerts, rng)
        row = store.query("SELECT * FROM alerts")[0]
        assert row["attempts"] == attempt and row["last_error"] == f"HTTP 500 #{attempt}"
        if attempt < 3:
            assert status == ["pending"]
            due = datetime.fromisoformat(row["next_attempt_at"])
            delays.append((due - now).total_seconds())
            assert alert_rows.claim_immediate(store, due - timedelta(seconds=1)) == []
            now = due
        else:
            assert status == ["dead"] and row["status"] == "dead"
    assert 24 <= delays[0] <= 36 and 48 <= delays[1] <= 72  # 30 s doubling, ±20 %
    assert alert_rows.claim_immediate(store, now + timedelta(days=30)) == []


def test_backoff_is_capped_and_jittered():
    cfg = AlertsConfig(max_attempts=20, backoff=30.0, max_backoff=600.0)
    rng = random.Random(1)
    values = [outbox.backoff(n, cfg, rng) for n in range(1, 15)]
    assert max(values) <= 600.0
    assert len({round(v, 3) for v in values[-5:]}) > 1 or values[-1] == 600.0


def test_recover_returns_crashed_sends_to_pending(setup):
    cfg, store = setup
    story, article = add_article(store, title="t")
    with store.atomic() as db:
        outbox.enqueue(
            db,
            story_id=story,
            article_id=article,
            matches=[FakeMatch("tr-sy-defence")],
            channels=cfg.channels,
            now=NOW,
        )
    claimed = alert_rows.claim_immediate(store, NOW)
    assert len(claimed) == 2 and alert_rows.claim_immediate(store, NOW) == []  # claimed once only
    assert alert_rows.recover(store) == 2
    assert len(alert_rows.claim_immediate(store, NOW)) == 2


def test_retry_dead_all_and_ids(setup):
    cfg, store = setup
    rng = random.Random(0)
    ids = []
    for i in range(3):
        story, article = add_article(store, title=f"t{i}")
        with store.atomic() as db:
            outbox.enqueue(
                db,
                story_id=story,
                article_id=article,
                matches=[FakeMatch("x", severity="low")],
                channels=cfg.channels[:1],
                now=NOW,
            )
    rows = alert_rows.claim_immediate(store, NOW)
    ids = [r["id"] for r in rows]
    alert_rows.mark_sent(store, ids[:1], NOW)
    alert_rows.kill(store, ids[1:2], "gone")
    outbox.mark_failed(store, ids[2:], "HTTP 500", NOW, cfg.alerts, rng)
    later = NOW + timedelta(minutes=1)
    assert alert_rows.retry(store, later, ids=ids[:1]) == 0  # sent: left alone
    assert alert_rows.retry(store, later, dead=True) == 1
    assert alert_rows.counts(store) == {"pending": 2, "sending": 0, "sent": 1, "dead": 0}
    assert alert_rows.retry(store, later, every=True) == 2
    due = alert_rows.claim_immediate(store, later)
    assert sorted(r["id"] for r in due) == ids[1:]
    assert all(r["attempts"] == 0 for r in due)


def test_listing_shows_last_error_and_headline(setup):
    cfg, store = setup
    story, article = add_article(store, title="Headline here")
    with store.atomic() as db:
        outbox.enqueue(
            db,
            story_id=story,
            article_id=article,
            matches=[FakeMatch("x", severity="low")],
            channels=cfg.channels[:1],
            now=NOW,
        )
    [row] = alert_rows.claim_immediate(store, NOW)
    alert_rows.kill(store, [row["id"]], "channel 'all' is no longer in the configuration")
    [listed] = alert_rows.listing(store, status="dead")
    assert listed["headline"] == "Headline here" and listed["feed"] == "Reuters World"
    assert "no longer in the configuration" in listed["last_error"]
    assert alert_rows.of_article(store, article) == [
        {
            "channel": "all",
            "status": "dead",
            "attempts": 0,
            "sent_at": None,
            "last_error": "channel 'all' is no longer in the configuration",
        }
    ]
