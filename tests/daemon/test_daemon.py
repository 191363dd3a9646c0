"""The daemon as a user runs it: a real `watcher run` process against loopback
feeds, stopped by signals, killed with -9, and started twice."""

import random
import signal
import sqlite3
import time

from newsroom import Newsroom, write_config
from support import start_watcher, wait_for, watcher_process


def start(config, *args):
    return start_watcher("--config", str(config), "run", *args)


def count(db, sql):
    if not db.exists():
        return 0
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:  # not migrated yet
        return 0
    finally:
        conn.close()


def test_daemon_polls_refuses_a_second_instance_and_stops_on_sigterm(tmp_path, server):
    room = Newsroom(server)
    room.add_seed_articles()
    config = write_config(tmp_path, [("Example News", room.publish())])
    db = tmp_path / "watcher.db"
    daemon = start(config)
    try:
        wait_for(lambda: count(db, "SELECT count(*) FROM articles") == 5, timeout=60, interval=0.2)
        second = watcher_process("--config", str(config), "run", "--once", timeout=60)
        assert second.returncode == 2
        assert "already running" in second.stderr and "Traceback" not in second.stderr
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=40)
        assert daemon.returncode == 0, err
        assert "stopping" in err
    finally:
        if daemon.poll() is None:
            daemon.kill()
    # The lock is released: a new run works.
    again = watcher_process("--config", str(config), "run", "--once")
    assert again.returncode == 0, again.stderr


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(tmp_path, server):
    room = Newsroom(server, page_delay=0.15)  # slow pages, so that kills land mid-poll
    room.add_seed_articles()
    room.add_real_pages(20)
    config = write_config(
        tmp_path, [("Example News", room.publish()), ("Mirror", room.publish("/mirror.xml", "Mirror"))]
    )
    db = tmp_path / "watcher.db"
    rng = random.Random(20261121)
    kills = runs = 0
    while kills < 8 and runs < 30:  # until 8 kills have landed mid-run
        runs += 1
        proc = start(config, "--once")
        time.sleep(rng.uniform(0.3, 2.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        conn = sqlite3.connect(db, timeout=10)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # never half-stored: every article has its entry, every entry its article
        assert (
            conn.execute(
                "SELECT count(*) FROM articles a WHERE NOT EXISTS "
                "(SELECT 1 FROM entries e WHERE e.article_id = a.id)"
            ).fetchone()[0]
            == 0
        )
        assert (
            conn.execute(
                "SELECT count(*) FROM entries e WHERE e.article_id IS NULL OR NOT EXISTS "
                "(SELECT 1 FROM articles a WHERE a.id = e.article_id)"
            ).fetchone()[0]
            == 0
        )
        conn.close()
    assert kills >= 8, f"only {kills} of {runs} kills landed while the watcher was working"
    final = watcher_process("--config", str(config), "run", "--once", timeout=300)
    assert final.returncode == 0, final.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    expected = len(room.stories)
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == expected
    assert conn.execute("SELECT count(DISTINCT canonical_url) FROM articles").fetchone()[0] == expected
    # each entry of each feed exactly once
    assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 2 * expected
    assert conn.execute("SELECT count(*) FROM articles WHERE matched = 1").fetchone()[0] >= 5
    conn.close()


def test_a_hung_feed_never_holds_up_the_others(tmp_path, server):
    server.route("/hang.xml", hang="before_headers")
    room = Newsroom(server)
    room.add_seed_articles()
    config = write_config(
        tmp_path, [("Hang", server.url("/hang.xml")), ("Good", room.publish())], timeout="30s"
    )
    text = config.read_text().replace('poll_interval = "15m"', 'poll_interval = "1s"')
    config.write_text(text)
    daemon = start(config, "--grace", "2s")
    try:
        # While the hung feed holds its request (30 s deadline), the good one is polled again and again.
        wait_for(lambda: len(server.requests_for("/feed.xml")) >= 3, timeout=25, interval=0.2)
        assert len(server.requests_for("/hang.xml")) == 1  # never two polls of one feed at once
    finally:
        daemon.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        _, err = daemon.communicate(timeout=60)
    # The hung poll is abandoned at the end of the grace time, not waited for.
    assert time.monotonic() - stopped < 15, err
    assert daemon.returncode == 0 and "still running at the end of the 2 s grace time" in err
