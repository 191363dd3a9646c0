"""`watcher run --once` as cron and a new user run it (issue 10): the first-poll
baseline, --no-send, exit codes a scheduler can use, a log line per feed and
per failed page, and pruning."""

from __future__ import annotations

import html
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from newsroom import Newsroom, write_config
from support import rows, watcher

CITIES = ["Ankara", "Damascus", "Istanbul", "Aleppo", "Izmir", "Homs", "Bursa", "Latakia", "Konya", "Idlib"]
CITIES += ["Antalya", "Hama", "Mersin", "Raqqa"]
BASELINE = "baseline / too old to alert"


def brief(n: int) -> str:
    """A short dispatch the default rule pack matches (each one different)."""
    return (
        f"Turkish Defence Minister Yasar Guler met Syrian Defence Minister Murhaf Abu Qasra in "
        f"{CITIES[n]} to discuss military cooperation and training of the Syrian army (meeting {n})."
    )


def rss(server, items: list[tuple[int, datetime | None]]) -> bytes:
    """Items (number, published or None for an undated item), newest first."""
    body = "".join(
        f"<item><title>Defence talks in {CITIES[n]}</title><link>{server.url(f'/brief/{n}.html')}</link>"
        f"<guid>urn:brief:{n}</guid><description>{html.escape(brief(n))}</description>"
        + (f"<pubDate>{format_datetime(when)}</pubDate>" if when else "")
        + "</item>"
        for n, when in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>{server.url('/')}</link><description>briefs</description>{body}</channel></rss>"
    ).encode()


def publish(server, items) -> str:
    server.route("/wire.xml", body=rss(server, items), content_type="application/rss+xml")
    return server.url("/wire.xml")


def desk(hook, extra: str = "") -> str:
    return f'[[channels]]\nname = "desk"\nurl = "{hook.url()}"\n{extra}'


def headlines(hook) -> list[str]:
    """The headlines the alerts carried ("[rule title] headline")."""
    return sorted(t.split("] ", 1)[1] for t in hook.titles())


def logged(config) -> dict[str, dict]:
    result = watcher(config, "log", "--json", "--limit", "100")
    assert result.exit_code == 0, result.output
    return {json.loads(line)["title"]: json.loads(line) for line in result.stdout.splitlines()}


# -- the first-poll baseline -----------------------------------------------------------------------


def test_a_new_feed_of_old_items_alerts_only_on_todays(tmp_path, server, hook):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    old = [(n, datetime(2019 + n // 4, 1 + n, 10, 8, 0, tzinfo=timezone.utc)) for n in range(10)]
    today = [(10, now - timedelta(hours=1)), (11, now - timedelta(hours=3))]
    feed = publish(server, today + old[::-1])
    config = write_config(tmp_path, [("Wire", feed)], fetch_article=False, extra=desk(hook))
    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output
    assert "12 articles stored, 2 alerts queued" in result.output
    assert headlines(hook) == sorted(f"Defence talks in {c}" for c in CITIES[10:12])
    # The old ones are stored, matched, searchable and shown as baseline.
    stories = logged(config)
    assert len(stories) == 12
    assert {t for t, s in stories.items() if s["alert_status"] == BASELINE} == {
        f"Defence talks in {CITIES[n]}" for n in range(10)
    }
    assert stories["Defence talks in Ankara"]["no_alert"].startswith("too old to alert: published 2019-01-10")
    assert stories[f"Defence talks in {CITIES[10]}"]["alert_status"] == "sent"
    table = watcher(config, "log", "--limit", "100").stdout
    assert table.count(BASELINE) == 10
    found = watcher(config, "search", "Qasra", "--json", "--limit", "50").stdout.splitlines()
    assert len(found) == 12


def test_undated_entries_do_not_alert_in_the_first_poll_but_do_later(tmp_path, server, hook):
    feed = publish(server, [(0, None), (1, None)])
    config = write_config(tmp_path, [("Wire", feed)], fetch_article=False, extra=desk(hook))
    assert watcher(config, "run", "--once").exit_code == 0
    assert hook.titles() == []
    stories = logged(config)
    assert {s["alert_status"] for s in stories.values()} == {BASELINE}
    assert stories["Defence talks in Ankara"]["no_alert"] == "baseline: no date, in its feed's first poll"
    # Later, an undated entry is as new as its first sighting: it alerts.
    publish(server, [(2, None), (0, None), (1, None)])
    assert watcher(config, "run", "--once").exit_code == 0
    assert headlines(hook) == ["Defence talks in Istanbul"]


def test_a_feeds_own_max_age_overrides_the_default(tmp_path, server, hook):
    now = datetime.now(timezone.utc)
    feed = publish(server, [(0, now - timedelta(days=2)), (1, now - timedelta(days=20))])
    config = write_config(tmp_path, [("Wire", feed)], fetch_article=False, extra=desk(hook))
    text = config.read_text().replace('name = "Wire"\n', 'name = "Wire"\nmax_age = "30d"\n')
    config.write_text(text.replace("[[channels]]", '[alerts]\nmax_age = "1d"\n\n[[channels]]'))
    assert watcher(config, "check").exit_code == 0
    assert watcher(config, "run", "--once").exit_code == 0
    assert len(hook.titles()) == 2  # the feed's 30 days win over [alerts] max_age = 1d


def test_run_once_no_send_fills_the_log_without_alerting(tmp_path, server, hook):
    now = datetime.now(timezone.utc)
    feed = publish(server, [(0, now - timedelta(hours=1)), (1, now - timedelta(hours=2))])
    config = write_config(tmp_path, [("Wire", feed)], fetch_article=False, extra=desk(hook))
    result = watcher(config, "run", "--once", "--no-send")
    assert result.exit_code == 0, result.output
    assert "0 alerts queued" in result.output and "--no-send" in result.output
    assert rows(tmp_path, "SELECT count(*) AS n FROM alerts")[0]["n"] == 0
    assert {s["alert_status"] for s in logged(config).values()} == {BASELINE}
    # A later run without it alerts on what is new, never on what --no-send stored.
    publish(server, [(2, now), (0, now - timedelta(hours=1)), (1, now - timedelta(hours=2))])
    assert watcher(config, "run", "--once").exit_code == 0
    assert headlines(hook) == ["Defence talks in Istanbul"]
    refused = watcher(config, "run", "--no-send")
    assert refused.exit_code == 2 and "--no-send works with --once" in refused.stderr


# -- exit codes -------------------------------------------------------------------------------------


def test_run_once_exits_3_naming_the_failed_feeds_and_0_when_all_were_read(tmp_path, server):
    room = Newsroom(server)
    room.add_seed_articles()
    server.route("/broken.xml", status=500, body=b"oops")
    config = write_config(
        tmp_path, [("Example News", room.publish()), ("Broken Wire", server.url("/broken.xml"))]
    )
    result = watcher(config, "run", "--once")
    assert result.exit_code == 3, result.output
    assert "1 feed(s) failed: Broken Wire (exit 3)" in result.stderr
    assert "5 articles stored" in result.stdout  # the pass completed
    server.route("/broken.xml", body=room.rss("Broken Wire"), content_type="application/rss+xml")
    conn = sqlite3.connect(tmp_path / "watcher.db")
    conn.execute("UPDATE feeds SET next_due = NULL")  # due now, not after its back-off
    conn.commit()
    conn.close()
    again = watcher(config, "run", "--once")
    assert again.exit_code == 0, again.output
    assert "failed" not in again.stderr


# -- logs -------------------------------------------------------------------------------------------


def test_run_once_at_info_logs_a_line_per_feed_and_per_failed_page(tmp_path, server):
    room = Newsroom(server)
    room.add_seed_articles()
    lost = room.stories[2].path
    server.route(lost, status=404, body=b"no such page")
    server.route("/broken.xml", status=500, body=b"oops")
    config = write_config(
        tmp_path, [("Example News", room.publish()), ("Broken Wire", server.url("/broken.xml"))]
    )
    quiet = watcher(config, "run", "--once")
    assert "watcher.pipeline" not in quiet.stderr  # WARNING by default: the summary speaks
    conn = sqlite3.connect(tmp_path / "watcher.db")
    conn.execute("DELETE FROM entries")
    conn.execute("DELETE FROM articles")
    conn.execute("UPDATE feeds SET next_due = NULL, etag = NULL, last_modified = NULL")
    conn.commit()
    conn.close()
    result = watcher(config, "run", "--once", "--log-level", "INFO")
    lines = [line for line in result.stderr.splitlines() if " INFO watcher.pipeline: " in line]
    per_feed = [line for line in lines if ": Example News: ok" in line or ": Broken Wire: failing" in line]
    assert len(per_feed) == 2, result.stderr
    assert "5 new, 5 stored" in per_feed[0] + per_feed[1] and "1 of 5 page(s) failed" in result.stderr
    pages = [line for line in lines if "page: HTTP 404" in line]
    assert len(pages) == 1 and lost in pages[0]
    # The summary names the failed pages too, and `watcher feeds` has the counts.
    assert "1 of 5 article page(s) failed" in result.stderr
    listed = {
        json.loads(ln)["name"]: json.loads(ln)
        for ln in watcher(config, "feeds", "--json").stdout.splitlines()
    }
    # (summed over the feed's recent polls: both runs tried 5 pages and lost 1)
    assert listed["Example News"]["pages_tried"] == 10 and listed["Example News"]["pages_failed"] == 2
    assert "HTTP 404" in listed["Example News"]["last_page_error"]


def test_a_malformed_feed_shows_its_warning_in_watcher_feeds(tmp_path, server):
    room = Newsroom(server)
    room.add_seed_articles()
    broken = room.rss().replace(b"</channel></rss>", b"<item><title>cut off")
    server.route("/feed.xml", body=broken, content_type="application/rss+xml")
    config = write_config(tmp_path, [("Example News", server.url("/feed.xml"))], fetch_article=False)
    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(ln) for ln in watcher(config, "feeds", "--json").stdout.splitlines()]
    # read only by the lenient parser: degraded (issue 10), with the warning
    assert record["status"] == "degraded" and record["warning"], record
    assert "malformed" in record["warning"] or "not well-formed" in record["warning"], record["warning"]
    table = watcher(config, "feeds").stdout
    assert "degraded" in table and "read only by the lenient parser" in table


# -- pruning ----------------------------------------------------------------------------------------


def age_unmatched(folder, days: int) -> int:
    conn = sqlite3.connect(folder / "watcher.db")
    old = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat()
    n = conn.execute("UPDATE articles SET fetched_at = ? WHERE matched = 0", (old,)).rowcount
    conn.commit()
    conn.close()
    return n


def test_watcher_prune_prunes_now_and_run_once_when_a_prune_is_due(tmp_path, server):
    room = Newsroom(server)
    room.add_seed_articles()
    room.add_real_pages(3)  # unrelated: unmatched
    config = write_config(tmp_path, [("Example News", room.publish())])
    config.write_text(
        config.read_text().replace('poll_interval = "15m"', 'poll_interval = "15m"\nkeep_days = 30')
    )
    first = watcher(config, "run", "--once")
    assert first.exit_code == 0, first.output
    assert "pruned 0 unmatched article(s)" in first.stdout  # no prune yet: one was due
    assert age_unmatched(tmp_path, 60) == 3
    again = watcher(config, "run", "--once")
    assert "pruned" not in again.stdout  # the last prune was minutes ago: not due
    assert len(rows(tmp_path, "SELECT id FROM articles")) == 8
    pruned = watcher(config, "prune")
    assert pruned.exit_code == 0, pruned.output
    assert pruned.stdout.startswith("pruned 3 unmatched article(s)")
    assert len(rows(tmp_path, "SELECT id FROM articles")) == 5
    assert len(rows(tmp_path, "SELECT id FROM entries")) == 8  # pruned entries are never fetched again
    # run --once prunes when due: six hours after the last prune.
    room.add_real_pages(4)
    room.publish()
    assert watcher(config, "run", "--once").exit_code == 0
    assert age_unmatched(tmp_path, 60) == 1
    conn = sqlite3.connect(tmp_path / "watcher.db")
    conn.execute(
        "UPDATE meta SET value = ? WHERE key = 'last_prune'",
        ((datetime.now(timezone.utc) - timedelta(hours=7)).isoformat(),),
    )
    conn.commit()
    conn.close()
    due = watcher(config, "run", "--once")
    assert "pruned 1 unmatched article(s)" in due.stdout, due.output
    assert len(rows(tmp_path, "SELECT id FROM articles")) == 5


def test_watcher_prune_without_keep_days_says_what_to_set(tmp_path, server):
    config = write_config(tmp_path, [])
    result = watcher(config, "prune")
    assert result.exit_code == 2
    assert "keep_days is not set in" in result.stderr and "--keep-days" in result.stderr


# -- a database that cannot record the polls -----------------------------------------------------------


def test_a_pass_whose_polls_cannot_be_recorded_names_every_feed_and_records_none(tmp_path, server):
    """No poll of a pass waits for its record (the writer stores them together at the
    end): a database that refuses them still makes every feed's result say so."""
    from watcher import app, pipeline
    from watcher import config as config_mod
    from watcher.match.rules import load_rules
    from watcher.sources import schedule
    from watcher.store.database import Store

    room = Newsroom(server)
    room.add_seed_articles()
    names = [f"Wire {n}" for n in range(5)]
    config_path = write_config(
        tmp_path,
        [(name, room.publish(f"/wire{n}.xml", name)) for n, name in enumerate(names)],
        fetch_article=False,
    )
    assert watcher(config_path, "run", "--once").exit_code == 0
    polls = rows(tmp_path, "SELECT count(*) AS n FROM polls")[0]["n"]
    config = config_mod.load(config_path)
    parts = app.build_parts(config, lambda: datetime.now(timezone.utc), load_rules(list(config.rules)))

    def read_only() -> Store:
        store = Store.open(config.database)
        store.execute("PRAGMA query_only = ON")
        return store

    store = Store.open(config.database)
    try:
        due = schedule.due_rows(store, config.feeds, datetime.now(timezone.utc), healthy_too=True)
        summary = pipeline.poll_due(
            parts, read_only, [f for f, _ in due], workers=2, rows={f.url: r for f, r in due}
        )
    finally:
        store.close()
        parts.client.close()
        parts.extractor.close()
    assert sorted(r.feed for r in summary.failed) == sorted(f.url for f in config.feeds)
    assert all(not r.recorded and "readonly" in (r.database_error or "") for r in summary.results)
    assert rows(tmp_path, "SELECT count(*) AS n FROM polls")[0]["n"] == polls
    assert len(server.requests_for("/wire0.xml")) == 2  # it was polled (answered 304), not recorded


def test_a_slow_host_s_feeds_wait_their_turn_without_losing_time_from_their_deadline(tmp_path, server):
    """`run --once` hands a thread a feed whose host has a poll slot free
    ([network] per_host), as the daemon does: a second feed of a slow host is
    not started only to wait behind the first one while its request's deadline
    runs out; the other host's feed goes in the meantime."""
    from httpserver import LoopbackServer

    slow_items = [(0, datetime.now(timezone.utc) - timedelta(hours=1))]
    server.route("/a1.xml", body=rss(server, slow_items), content_type="application/rss+xml", delay=2.0)
    server.route("/a2.xml", body=rss(server, slow_items), content_type="application/rss+xml", delay=2.0)
    with LoopbackServer("127.0.0.2") as other:
        other.route("/b1.xml", body=rss(other, [(1, None)]), content_type="application/rss+xml")
        config = write_config(
            tmp_path,
            [("A1", server.url("/a1.xml")), ("A2", server.url("/a2.xml")), ("B1", other.url("/b1.xml"))],
            fetch_article=False,
            timeout="3.5s",  # each slow answer takes 2 s: a wait behind the other would leave 1.5 s
            network="per_host = 1\nmax_connections = 4",
        )
        result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output
    polled = {
        r["url"].rsplit("/", 1)[1]: r
        for r in rows(tmp_path, "SELECT url, last_status, last_error FROM feeds")
    }
    assert {name: r["last_status"] for name, r in polled.items()} == {
        "a1.xml": "ok",
        "a2.xml": "ok",
        "b1.xml": "ok",
    }, polled
