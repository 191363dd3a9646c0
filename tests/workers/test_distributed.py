"""Distributed mode as a user runs it (issue 14): a real redis-server, real
`watcher worker` processes and a real `watcher run`, against loopback feeds
that list real news pages. What is checked is what the log holds: every
entry stored once, with its full text, whatever was killed or restarted."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from support import values, wait_for, watcher
from workers_support import distributed_config, start, stop

from watcher.parse.feed import FeedEntry, ParsedFeed
from watcher.pipeline.reader import FeedOrder, FeedRead, PageOrder, PageRead
from watcher.workers import wire


def stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        return values(db, "SELECT count(*) FROM articles")[0][0]
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def assert_each_entry_stored_once_with_full_text(db: Path, feeds: int) -> None:
    assert values(db, "PRAGMA integrity_check")[0][0] == "ok"
    assert values(db, "SELECT count(*) FROM articles")[0][0] == feeds
    assert values(db, "SELECT count(DISTINCT canonical_url) FROM articles")[0][0] == feeds
    assert values(db, "SELECT count(*) FROM entries")[0][0] == feeds
    not_full = values(db, "SELECT url, extraction_error FROM articles WHERE extraction != 'full'")
    assert not_full == []
    assert values(db, "SELECT min(length(text)) FROM articles")[0][0] > 100  # the pages' own text
    # every poll that read its feed saved its validators only after its entries
    assert values(db, "SELECT count(*) FROM feeds WHERE etag IS NULL")[0][0] == 0


def logs(tmp_path: Path) -> str:
    """The processes' logs, for an assertion's message."""
    return "\n".join(f"--- {p.name}\n{p.read_text()[-6000:]}" for p in sorted(tmp_path.glob("*.log")))


def run_once(config: Path, log: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    with open(log, "a") as err:
        return subprocess.run(
            [sys.executable, "-m", "watcher", "--config", str(config), "run", "--once"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            timeout=timeout,
        )


@pytest.mark.timeout(1200)
def test_200_feeds_are_stored_once_with_full_text_though_a_worker_is_killed(
    tmp_path, server, redis_server, processes
):
    config = distributed_config(tmp_path, server, redis_server, feeds=200)
    db = tmp_path / "watcher.db"
    first = start(config, tmp_path / "worker1.log", "worker")
    second = start(config, tmp_path / "worker2.log", "worker")
    run = start(config, tmp_path / "run.log", "run", "--once")
    processes += [first, second, run]
    wait_for(lambda: stored(db) >= 30 or run.poll() is not None, timeout=600, interval=0.2)
    assert run.poll() is None, (tmp_path / "run.log").read_text()
    first.send_signal(signal.SIGKILL)  # mid-run: its tasks go back to the queue after 3 s
    assert run.wait(timeout=900) == 0, logs(tmp_path)
    assert_each_entry_stored_once_with_full_text(db, 200)
    assert stop(second) == 0
    # Polled again (healthy feeds are polled even before their interval): nothing new, nothing twice.
    again = start(config, tmp_path / "worker3.log", "worker")
    processes.append(again)
    rerun = run_once(config, tmp_path / "run.log")
    assert rerun.returncode == 0 and "0 new entries" in rerun.stdout, rerun.stdout
    assert_each_entry_stored_once_with_full_text(db, 200)


@pytest.mark.timeout(900)
def test_a_redis_restart_mid_run_loses_nothing(tmp_path, server, redis_server, processes):
    config = distributed_config(tmp_path, server, redis_server, feeds=50)
    db = tmp_path / "watcher.db"
    worker = start(config, tmp_path / "worker.log", "worker")
    run = start(config, tmp_path / "run.log", "run", "--once")
    processes += [worker, run]
    wait_for(lambda: stored(db) >= 8 or run.poll() is not None, timeout=600, interval=0.1)
    assert run.poll() is None, (tmp_path / "run.log").read_text()
    redis_server.restart()  # without persistence: every queued order and result is gone
    assert run.wait(timeout=600) == 0, logs(tmp_path)
    assert_each_entry_stored_once_with_full_text(db, 50)
    assert "the broker restarted" in (tmp_path / "run.log").read_text()


@pytest.mark.timeout(900)
def test_run_restarted_mid_run_resumes(tmp_path, server, redis_server, processes):
    config = distributed_config(tmp_path, server, redis_server, feeds=50)
    db = tmp_path / "watcher.db"
    worker = start(config, tmp_path / "worker.log", "worker")
    daemon = start(config, tmp_path / "run.log", "run")
    processes += [worker, daemon]
    wait_for(lambda: stored(db) >= 8 or daemon.poll() is not None, timeout=600, interval=0.1)
    daemon.send_signal(signal.SIGKILL)
    daemon.wait(timeout=30)
    assert stored(db) < 50
    # The new run takes the deployment lock over at once (its holder is gone) and goes on.
    again = start(config, tmp_path / "run.log", "run")
    processes.append(again)
    wait_for(lambda: stored(db) >= 50 or again.poll() is not None, timeout=600, interval=0.2)
    assert again.poll() is None, logs(tmp_path)
    # What `watcher status` shows about the queues while the workers run.
    status = watcher(config, "status")
    assert "workers seen in the last minute: 1" in status.output, status.output
    assert "queue:" in status.output
    assert stop(again) == 0
    assert stop(worker) == 0
    assert_each_entry_stored_once_with_full_text(db, 50)


def test_a_second_run_on_the_same_broker_is_refused(tmp_path, server, redis_server, processes):
    config = distributed_config(tmp_path, server, redis_server, feeds=1)
    daemon = start(config, tmp_path / "run.log", "run")
    processes.append(daemon)
    wait_for(lambda: "watching 1 feed" in (tmp_path / "run.log").read_text(), timeout=120, interval=0.1)
    # Another deployment's database (another machine's run) on the same broker and namespace.
    other = tmp_path / "other"
    other.mkdir()
    text = config.read_text().replace(str(tmp_path / "watcher.db"), str(other / "watcher.db"))
    (other / "watcher.toml").write_text(text)
    (other / "watcher.toml").chmod(0o600)
    second = subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(other / "watcher.toml"), "run", "--once"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 2, second.stderr
    assert "another `watcher run` holds this deployment" in second.stderr
    assert "Traceback" not in second.stderr
    assert stop(daemon) == 0


def test_worker_without_a_broker_says_which_key_to_set(tmp_path, server):
    from newsroom import write_config

    config = write_config(tmp_path, [("Example", server.url("/feed.xml"))])
    result = watcher(config, "worker")
    assert result.exit_code == 2
    assert "[workers] broker" in result.output


def test_orders_and_results_cross_the_queue_as_plain_json():
    import json
    from datetime import datetime, timezone

    entry = FeedEntry(
        "tag:a,1",
        "https://example.com/a",
        "Başlık",
        "Özet",
        None,
        datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc),
        "tr",
    )
    feed = FeedRead(
        "https://example.com/feed", 200, etag='"x"', feed=ParsedFeed("Örnek", "tr", (entry,), None)
    )
    page = PageRead(
        "https://example.com/a", text="Metin", title="T", derived={"content_hash": "ab", "fingerprint": -5}
    )
    for kind, value in ((wire.FEED, feed), (wire.PAGE, page)):
        assert wire.read_result(kind, json.loads(json.dumps(wire.result(value)))) == value
    for kind, order in (
        (wire.FEED, FeedOrder("https://e/f", None, "Mon", 9.5)),
        (wire.PAGE, PageOrder("https://e/a", 3)),
    ):
        assert wire.read_order(kind, json.loads(json.dumps(wire.order(kind, order)))) == order
    with pytest.raises(wire.WireError):
        wire.read_result(wire.FEED, {"url": "x", "status": "not a number"})
    with pytest.raises(wire.WireError):
        wire.read_order("pickle", {})


def test_every_field_of_every_order_and_result_crosses_the_queue():
    """Each field set to a value other than its default (a source's page headers, a
    channel's recent guids, the feed's reader...) reads back the same on the other side."""
    import json
    from dataclasses import MISSING, fields
    from datetime import datetime, timedelta, timezone

    when = datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=3)))
    entry = FeedEntry("g", "https://e/a", "T", "S", "Ayşe", when, "tr", when + timedelta(hours=1))
    values = {
        FeedOrder: FeedOrder("https://e/f", '"e"', "Mon, 07 Dec 2026 10:00:00 GMT", 9.5, ("g1", "g2")),
        PageOrder: PageOrder("https://e/a", 3.5, False, (("Cookie", "s=1"), ("Authorization", "Bearer x"))),
        FeedRead: FeedRead(
            "https://e/f",
            200,
            "a warning",
            True,
            '"e"',
            "Mon",
            30.0,
            ParsedFeed("Örnek", "tr", (entry,), "recovered", "lxml"),
            ("g",),
            False,
        ),
        PageRead: PageRead(
            "https://e/a",
            "Metin",
            "T",
            "A",
            "2026-12-01",
            "tr",
            {"content_hash": "ab", "fingerprint": -5},
            "page: 404",
            True,
            True,
        ),
    }
    for kind_of, value in values.items():
        for f in fields(kind_of):
            default = f.default_factory() if f.default_factory is not MISSING else f.default
            assert getattr(value, f.name) != default, f"{kind_of.__name__}.{f.name}: set it in this test"
        kind = wire.FEED if kind_of in (FeedOrder, FeedRead) else wire.PAGE
        if kind_of in (FeedOrder, PageOrder):
            back = wire.read_order(kind, json.loads(json.dumps(wire.order(kind, value))))
        else:
            back = wire.read_result(kind, json.loads(json.dumps(wire.result(value))))
        assert back == value, kind_of.__name__


def test_a_result_with_a_time_without_its_zone_is_refused():
    import json
    from datetime import datetime, timezone

    entry = FeedEntry("g", None, "T", "S", None, datetime(2026, 1, 1, tzinfo=timezone.utc), None)
    data = json.loads(
        json.dumps(wire.result(FeedRead("u", 200, feed=ParsedFeed(None, None, (entry,), None))))
    )
    data["feed"]["entries"][0]["published"] = "2026-01-01T00:00:00"
    with pytest.raises(wire.WireError, match="without its zone"):
        wire.read_result(wire.FEED, data)
    data["feed"]["entries"][0]["published"] = "yesterday"
    with pytest.raises(wire.WireError, match="does not read"):
        wire.read_result(wire.FEED, data)


def test_metrics_show_the_broker_and_the_workers_it_has_seen(tmp_path, server, redis_server, processes):
    """What a Prometheus scraping `watcher serve` sees in distributed mode: the broker up,
    one worker seen, the queues; and the broker down as 0, the page still answering."""
    from prometheus_client.parser import text_string_to_metric_families

    from watcher import config as config_mod
    from watcher.store.database import Store
    from watcher.web import server as web
    from watcher.web.settings import WebSettings

    config_path = distributed_config(tmp_path, server, redis_server, feeds=1)
    worker = start(config_path, tmp_path / "worker.log", "worker")
    processes.append(worker)
    config = config_mod.load(config_path)
    Store.open(config.database).close()  # the log as a first run leaves it
    settings = WebSettings.from_config(config, host="127.0.0.1", port=0)
    site = web.WebServer(settings, clock=lambda: datetime.now(timezone.utc))
    url = site.start()

    def metrics() -> dict[str, list]:
        text = httpx.get(url + "/metrics", timeout=30).text
        return {f.name: f.samples for f in text_string_to_metric_families(text)}

    try:
        wait_for(
            lambda: (
                metrics().get("watcher_workers_seen", [None])[0] is not None
                and metrics()["watcher_workers_seen"][0].value == 1
            ),
            timeout=120,
            interval=0.2,
        )
        seen = metrics()
        assert seen["watcher_broker_up"][0].value == 1
        queues = {s.labels["queue"] for s in seen["watcher_queue_waiting"]}
        assert {"feeds", "pages", "results"} <= queues, queues
        assert stop(worker) == 0
        redis_server.kill()
        down = metrics()
        assert down["watcher_broker_up"][0].value == 0
        assert "watcher_workers_seen" not in down
        assert down["watcher_database_size_bytes"][0].value > 0  # the rest of the page still answers
    finally:
        site.stop()


def test_a_page_read_with_the_workers_folding_crosses_as_json_without_the_folding():
    """The extraction worker's derived values include the text's folding (an object, for the run
    process beside it): a remote worker's result carries the hash and fingerprint only."""
    import json

    from watcher.dedup import digest

    text = "Türkiye ve Suriye arasında savunma anlaşması imzalandı. " * 10
    derived = digest.digest(text)
    assert "folded" in derived
    page = PageRead("https://example.com/a", text=text, title="T", derived=derived)
    back = wire.read_result(wire.PAGE, json.loads(json.dumps(wire.result(page))))
    assert back.text == text
    assert back.derived == {"content_hash": derived["content_hash"], "fingerprint": derived["fingerprint"]}
