"""The one writer (watcher/pipeline/writer.py): entries prepared elsewhere are
stored by one thread, a poll at a time or in pieces from many polls at once.
Real entries (a real captured feed, parsed, folded and matched by the real
Ingest) on a real database; what is checked is what ends up in it."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from newsroom import write_config
from support import REAL

from watcher import app
from watcher import config as config_mod
from watcher.match.rules import load_rules
from watcher.parse.feed import parse_feed
from watcher.pipeline import Ingest, Pipeline, PollRecord, Writer
from watcher.pipeline import writer as writer_mod
from watcher.pipeline.batch import NewArticle
from watcher.pipeline.tally import Tally
from watcher.sources import schedule
from watcher.store.database import Store

FEED = REAL / "feeds" / "rss-parser" / "guardian.rss"  # 55 real items


def clock() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture
def world(tmp_path: Path):
    """A config with two feeds, their rows, the parts and a read connection."""
    path = write_config(
        tmp_path,
        [("One", "http://127.0.0.1:9/one.xml"), ("Two", "http://127.0.0.1:9/two.xml")],
        fetch_article=False,
    )
    config = config_mod.load(path)
    parts = app.build_parts(config, clock, load_rules(list(config.rules)))
    store = Store.open(config.database)
    schedule.sync(store, config.feeds, clock())
    yield config, parts, store
    store.close()
    parts.client.close()
    parts.extractor.close()


def prepared(parts, store, config, feed_index: int, count: int) -> list[NewArticle]:
    """The first ``count`` entries of the real feed, prepared for feed ``feed_index`` as a poll would."""
    parsed = parse_feed(FEED.read_bytes(), url="https://www.theguardian.com/world/rss")
    ingest = Ingest(parts, store)
    tally = Tally(deadline=time.monotonic() + 60, first_poll=True)
    feed_id = feed_index + 1
    return [ingest.prepare(feed_id, config.feeds[feed_index], e, tally) for e in parsed.entries[:count]]


def count(config, sql: str) -> int:
    conn = sqlite3.connect(config.database)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def refuse(config, table: str, canonical: str, also: str = "") -> None:
    """Another connection makes SQLite refuse inserts into ``table`` of the
    entry with ``canonical`` (``also``: a further condition) with 'refused here'."""
    conn = sqlite3.connect(config.database)
    conn.execute(
        f"CREATE TRIGGER refuse BEFORE INSERT ON {table} WHEN NEW.canonical_url = ? {also} "
        "BEGIN SELECT RAISE(ABORT, 'refused here'); END".replace("?", f"'{canonical}'")
    )
    conn.commit()
    conn.close()


def test_a_whole_poll_is_stored_at_once_and_its_validators_only_when_every_entry_was(world):
    config, parts, store = world
    items = prepared(parts, store, config, 0, 12)
    refused = items[3].canonical
    refuse(config, "articles", refused)
    writer = Writer(Store.open(config.database), config, clock)
    try:
        record = PollRecord(1, {"etag": '"v2"', "last_status": "ok"}, {})
        done = writer.commit(items, record).result(timeout=60)
        # One entry failed: stored as a failure on its row, the other eleven whole, the ETag kept back.
        assert done.articles_stored == 11 and len(done.failures) == 1 and not done.validators_saved
        assert "refused here" in done.failures[0].failed
        assert count(config, "SELECT count(*) FROM articles") == 11
        assert count(config, "SELECT count(*) FROM entries WHERE error IS NOT NULL") == 1
        assert (
            count(config, "SELECT count(*) FROM feeds WHERE id = 1 AND etag IS NULL AND last_status = 'ok'")
            == 1
        )
        # Every stored article has its entry, its story and its search row.
        assert (
            count(
                config,
                "SELECT count(*) FROM articles a WHERE NOT EXISTS "
                "(SELECT 1 FROM entries e WHERE e.article_id = a.id)",
            )
            == 0
        )
        assert count(config, "SELECT count(*) FROM articles WHERE story_id IS NULL") == 0
        assert count(config, "SELECT count(*) FROM search_index") == 11
        # The next poll stores the refused one once it is accepted, and then saves the validators.
        conn = sqlite3.connect(config.database)
        conn.execute("DROP TRIGGER refuse")
        conn.commit()
        conn.close()
        again = writer.commit(items, record).result(timeout=60)
        assert again.articles_stored == 1 and again.validators_saved and not again.failures
        assert count(config, "SELECT count(*) FROM feeds WHERE id = 1 AND etag = '\"v2\"'") == 1
        assert count(config, "SELECT count(*) FROM articles") == 12
    finally:
        writer.close()


def test_many_polls_handing_in_at_once_store_each_article_once(world):
    """Two feeds carrying the same twenty articles, handed in from eight threads
    at once in small pieces: one article each, in one story, with both feeds'
    entries; nothing lost, nothing twice."""
    config, parts, store = world
    one, two = prepared(parts, store, config, 0, 20), prepared(parts, store, config, 1, 20)
    writer = Writer(Store.open(config.database), config, clock, group=7)
    futures = []
    lock = threading.Lock()

    def hand_in(items) -> None:
        for i in range(0, len(items), 3):
            got = writer.submit(items[i : i + 3])
            with lock:
                futures.extend(got)

    threads = [
        threading.Thread(target=hand_in, args=(part,)) for part in (one[:10], one[10:], two[:5], two[5:])
    ]
    threads += [
        threading.Thread(target=hand_in, args=(part,)) for part in (two[10:15], two[15:], one[:2], two[:2])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        results = [f.result(timeout=60) for f in futures]
    finally:
        writer.close()
    assert not [r for r in results if r.failed]
    assert sum(r.new for r in results) == 20
    assert count(config, "SELECT count(*) FROM articles") == 20
    assert count(config, "SELECT count(DISTINCT canonical_url) FROM articles") == 20
    assert count(config, "SELECT count(*) FROM entries") == 40  # each feed's entry of each article
    assert count(config, "SELECT count(*) FROM entries WHERE article_id IS NULL") == 0
    assert count(config, "SELECT count(DISTINCT story_id) FROM articles") == count(
        config, "SELECT count(*) FROM stories"
    )


def test_a_closed_writer_refuses_more_and_has_stored_all_it_was_handed(world):
    config, parts, store = world
    items = prepared(parts, store, config, 0, 5)
    writer = Writer(Store.open(config.database), config, clock)
    futures = writer.submit(items)
    writer.close()
    assert all(f.done() and f.result().new for f in futures)
    with pytest.raises(Exception, match="writer is closed"):
        writer.submit(items)
    assert count(config, "SELECT count(*) FROM articles") == 5


def test_an_entry_failing_after_its_text_was_indexed_leaves_no_search_row_behind(world):
    """The writer indexes a group's texts after its entries (one FTS5 write per
    group): an entry rolled back after its article row and search text were
    made must leave neither, and the others are all found."""
    config, parts, store = world
    items = prepared(parts, store, config, 0, 12)
    refused = items[-1].canonical  # the last: no later article takes its id
    # fails the entry's last statement: its article and search row were made already
    refuse(config, "entries", refused, "AND NEW.error IS NULL")
    writer = Writer(Store.open(config.database), config, clock)
    try:
        stored = [f.result(timeout=60) for f in writer.submit(items)]
        assert sum(s.new for s in stored) == 11 and [s.failed for s in stored if s.failed] == [
            "internal error: IntegrityError: refused here"
        ]
        assert count(config, "SELECT count(*) FROM articles") == 11
        assert count(config, "SELECT count(*) FROM search_index") == 11
        assert count(config, "SELECT count(*) FROM search_index s JOIN articles a ON a.id = s.rowid") == 11
        assert count(config, f"SELECT count(*) FROM articles WHERE canonical_url = '{refused}'") == 0
        # The browser's plain search (articles_fts) holds exactly the stored articles.
        conn = sqlite3.connect(config.database)
        conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')")
        conn.close()
        title = items[0].title.split()[0]
        assert count(config, f"SELECT count(*) FROM articles_fts WHERE articles_fts MATCH '\"{title}\"'") >= 1
    finally:
        writer.close()


def poll_record(feed_id: int, n: int) -> PollRecord:
    stamp = f"2026-12-07T08:{n // 60:02d}:{n % 60:02d}+00:00"
    return PollRecord(
        feed_id,
        {
            "last_polled": stamp,
            "last_status": "not_modified",
            "last_http_status": 304,
            "consecutive_errors": 0,
        },
        {
            "started": stamp,
            "finished": stamp,
            "status": "not_modified",
            "http_status": 304,
            "entries_new": 0,
            "error": None,
        },
    )


def test_held_poll_records_go_in_together_and_every_one_is_stored_by_close(world):
    """``run --once`` waits for no poll's record: they are held and stored HOLD at a
    time, after the entries handed in before them, and the last ones at close."""
    config, parts, store = world
    writer = Writer(Store.open(config.database), config, clock)
    entries = writer.submit(prepared(parts, store, config, 0, 3))
    held = [writer.record(poll_record(1 + n % 2, n), hold=True) for n in range(writer_mod.HOLD - 1)]
    assert all(f.result().new for f in entries)
    assert not any(f.done() for f in held)  # still held: fewer than HOLD
    assert count(config, "SELECT count(*) FROM polls") == 0
    held.append(writer.record(poll_record(2, writer_mod.HOLD), hold=True))  # the HOLD-th: all go in
    assert all(f.result() is None for f in held)
    assert count(config, "SELECT count(*) FROM polls") == writer_mod.HOLD
    last = writer.record(poll_record(1, writer_mod.HOLD + 1), hold=True)
    writer.close()
    assert last.done() and last.result() is None
    assert count(config, "SELECT count(*) FROM polls") == writer_mod.HOLD + 1
    assert (
        count(config, "SELECT last_polled FROM feeds WHERE id = 1")
        == poll_record(1, writer_mod.HOLD + 1).state["last_polled"]
    )
    with pytest.raises(Exception, match="writer is closed"):
        writer.record(poll_record(1, 0), hold=True)


def test_a_poll_waiting_for_its_entries_is_not_kept_waiting_while_the_writer_lingers(world, server):
    """The writer, busy, waits (LINGER) for more polls' entries to share a
    transaction; a poll that is done and waits for what it handed in tells it so
    (``Writer.hurry``) and gets its articles stored at once. Here the writer would
    linger for an hour: the poll still ends with every article stored."""
    config, parts, store = world
    server.route("/one.xml", body=FEED.read_bytes(), content_type="application/rss+xml")
    feed = replace(config.feeds[0], url=server.url("/one.xml"))
    schedule.sync(store, [feed, config.feeds[1]], clock())
    writer = Writer(Store.open(config.database), config, clock, linger=3600.0, busy=3600.0)
    try:
        first = writer.submit(prepared(parts, store, config, 1, 1))
        assert first[0].result(timeout=60).new  # stored at once: the writer was not busy yet
        later = writer.submit(prepared(parts, store, config, 1, 3)[1:])
        time.sleep(0.3)
        assert not later[-1].done()  # busy now: it holds these for more company
        polled: list = []
        poll = threading.Thread(target=lambda: polled.append(Pipeline(parts, store, writer).poll(feed)))
        poll.start()
        poll.join(120)
        assert not poll.is_alive(), "the poll waited for the writer's linger"
        assert polled[0].status == "ok" and polled[0].articles_stored > 50
        assert later[-1].done()  # handed in before the poll's entries: stored with or before them
        # Every article is stored: the poll's, and the three that came through feed Two first.
        assert count(config, "SELECT count(*) FROM articles") == polled[0].articles_stored + 3
        assert count(config, "SELECT count(*) FROM polls") == 1
    finally:
        writer.close()
