"""The daemon as a user runs it: a real `watcher run` process against loopback
feeds, stopped by signals, killed with -9, and started twice."""

import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from newsroom import Newsroom, write_config
from support import start_watcher, wait_for, watcher_process

ROOT = Path(__file__).resolve().parents[2]


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
        if not db.exists():
            continue  # killed before it created the database (a busy machine): nothing to lose
        conn = sqlite3.connect(db, timeout=10)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:  # killed while creating it: the schema is one transaction, so all or nothing
            conn.close()
            continue
        assert {"articles", "entries", "feeds", "alerts"} <= tables, tables
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


# -- issue 15 items 4 and 12, issue 10: the daemon as a service ---------------------------------------


def start_logged(config, log_file, *args):
    """`watcher run` with its log in a file the test can read while it runs."""
    out = open(log_file, "w")  # noqa: SIM115 - closed by the process's end
    return subprocess.Popen(
        [sys.executable, "-m", "watcher", "--config", str(config), "run", *args],
        stdout=subprocess.DEVNULL,
        stderr=out,
        text=True,
    )


def stop_daemon(daemon, timeout: float = 60) -> int:
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
    try:
        return daemon.wait(timeout=timeout)
    finally:
        if daemon.poll() is None:
            daemon.kill()


def every_second(config):
    config.write_text(config.read_text().replace('poll_interval = "15m"', 'poll_interval = "1s"'))
    return config


def test_item04_a_hung_host_holds_at_most_per_host_workers(tmp_path, server, make_server):
    """Three hung feeds of one host, two workers: with per_host = 1 only one of
    them ever holds a worker, and the healthy feed of another host is polled
    again and again meanwhile (without it, both workers hang for 30 s)."""
    for i in range(3):
        server.route(f"/hang{i}.xml", hang="before_headers")
    other = make_server("127.0.0.2")
    room = Newsroom(other)
    room.add_seed_articles()
    config = every_second(
        write_config(
            tmp_path,
            [(f"Hung {i}", server.url(f"/hang{i}.xml")) for i in range(3)] + [("Good", room.publish())],
            timeout="30s",
            fetch_article=False,
            network="max_connections = 2\nper_host = 1",
        )
    )
    daemon = start(config, "--grace", "2s")
    try:
        wait_for(lambda: len(other.requests_for("/feed.xml")) >= 3, timeout=25)
        hung = sum(len(server.requests_for(f"/hang{i}.xml")) for i in range(3))
        assert hung == 1, hung
    finally:
        stop_daemon(daemon)


class Hanging:
    """Answers nothing and holds each connection until the client gives up;
    counts how many are held at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = 0
        self.events: list[tuple[str, int]] = []  # ("start"|"end", requests so far)
        self.requests = 0

    def __call__(self, handler) -> None:
        with self.lock:
            self.requests += 1
            self.open += 1
            self.events.append(("start", self.open))
        handler.connection.settimeout(0.2)
        try:
            while not handler.server.owner.stopping.is_set():
                try:
                    if not handler.connection.recv(1):
                        break  # the client closed: its deadline passed
                except TimeoutError:
                    continue
                except OSError:
                    break
        finally:
            with self.lock:
                self.open -= 1
                self.events.append(("end", self.open))
            handler.close_connection = True


def test_item04_feeds_that_time_out_move_to_a_slow_lane(tmp_path, server, make_server):
    """Two feeds on two hung hosts, two workers: after their first timeout they are
    polled in the slow lane (one worker), never again both at once, so the healthy
    feed always has a worker."""
    hanging = Hanging()
    hosts = [make_server("127.0.0.3"), make_server("127.0.0.4")]
    for host in hosts:
        host.route_handler("/feed.xml", hanging)
    room = Newsroom(server)
    room.add_seed_articles()
    config = every_second(
        write_config(
            tmp_path,
            [
                ("Hung A", hosts[0].url("/feed.xml")),
                ("Hung B", hosts[1].url("/feed.xml")),
                ("Good", room.publish()),
            ],
            timeout="2s",
            fetch_article=False,
            network="max_connections = 2",
        )
    )
    daemon = start(config, "--grace", "2s")
    try:
        wait_for(lambda: hanging.requests >= 6, timeout=60)
    finally:
        stop_daemon(daemon)
    with hanging.lock:
        events = list(hanging.events)
    first_round = next(i for i, (kind, held) in enumerate(events) if kind == "end" and held == 0)
    assert max(held for kind, held in events[:first_round] if kind == "start") == 2  # both, at first
    assert max(held for kind, held in events[first_round:] if kind == "start") == 1  # then one at a time
    assert len(server.requests_for("/feed.xml")) >= 3


def test_item12_sigterm_never_outlasts_grace_while_an_alert_send_hangs(tmp_path, server, hook):
    hook.delay = 120  # the service takes the post and answers two minutes later
    room = Newsroom(server)
    room.add_seed_articles()
    config = write_config(
        tmp_path,
        [("Example News", room.publish())],
        fetch_article=False,
        extra=f'[[channels]]\nname = "desk"\nurl = "{hook.url()}"\n',
    )
    daemon = start_logged(config, tmp_path / "daemon.log", "--grace", "3s")
    try:
        wait_for(hook.arrived.is_set, timeout=60)
        daemon.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        code = daemon.wait(timeout=60)
        took = time.monotonic() - stopped
    finally:
        stop_daemon(daemon)
    log = (tmp_path / "daemon.log").read_text()
    assert code == 0, log
    assert took < 12, f"{took:.1f} s with --grace 3s"  # the send alone would take 60 s more
    assert "alert send was still under way" in log and log.rstrip().endswith("stopped")
    # The alerts claimed for the interrupted pass go out again at the next start (never lost).
    db = tmp_path / "watcher.db"
    assert count(db, "SELECT count(*) FROM alerts WHERE status = 'sending'") >= 1
    assert count(db, "SELECT count(*) FROM alerts WHERE status IN ('pending', 'sending')") == count(
        db, "SELECT count(*) FROM alerts"
    )


def test_daemon_logs_what_changed_what_is_loaded_and_a_stopped_line(tmp_path, server):
    room = Newsroom(server)
    room.add_seed_articles()
    config = every_second(write_config(tmp_path, [("Example News", room.publish())], fetch_article=False))
    log_file = tmp_path / "daemon.log"
    daemon = start_logged(config, log_file)
    try:
        wait_for(lambda: len(server.requests_for("/feed.xml")) >= 4, timeout=60)
        daemon.send_signal(signal.SIGUSR1)
        wait_for(lambda: "loaded " in log_file.read_text(), timeout=30)
    finally:
        code = stop_daemon(daemon)
    log = log_file.read_text()
    assert code == 0, log
    per_feed = [line for line in log.splitlines() if "Example News:" in line]
    assert len(per_feed) == 1 and "5 new, 5 stored" in per_feed[0], log  # later 304s: DEBUG
    assert "watching 1 feed(s)" in log and "channels: none" in log
    assert log.rstrip().splitlines()[-1].endswith("INFO watcher.daemon: stopped")
    shown = watcher_process("--config", str(config), "status")
    assert f"loaded     by pid {daemon.pid}: {config}" in shown.stdout, shown.stdout
    assert "1 feed(s)" in shown.stdout


def test_sighup_reloads_rules_and_a_broken_edit_keeps_the_running_config(tmp_path, server):
    rules = tmp_path / "rules"
    rules.mkdir()
    for f in (ROOT / "tests" / "data" / "review_rules" / "v1").glob("*.toml"):
        (rules / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    room = Newsroom(server)
    room.add_seed_articles()
    config = every_second(
        write_config(tmp_path, [("Example News", room.publish())], rules=rules, fetch_article=False)
    )
    log_file = tmp_path / "daemon.log"
    db = tmp_path / "watcher.db"
    daemon = start_logged(config, log_file)
    try:
        wait_for(lambda: count(db, "SELECT count(*) FROM articles") == 5, timeout=60)
        (rules / "weather.toml").write_text(
            '[[rules]]\nid = "weather"\ntitle = "Heatwaves"\nseverity = "low"\n'
            'condition = { terms = ["heatwave"] }\n',
            encoding="utf-8",
        )
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded" in log_file.read_text(), timeout=30)
        assert "4 rule(s)" in log_file.read_text()
        room.add(
            "/news/heat.html",
            "Heatwave grips the region",
            b"<html></html>",
            summary="A heatwave grips the region.",
        )
        room.publish()
        wait_for(lambda: count(db, "SELECT count(*) FROM matches WHERE rule_id = 'weather'") == 1, 60)
        assert daemon.poll() is None
        # A broken edit: the daemon keeps running on what it has and names file and key.
        (rules / "weather.toml").write_text(
            '[[rules]]\nid = "weather"\ntitle = "Heatwaves"\n', encoding="utf-8"
        )
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in log_file.read_text(), timeout=30)
        refused = next(line for line in log_file.read_text().splitlines() if "reload refused" in line)
        assert "weather.toml" in refused and "condition" in refused, refused
        config.write_text(config.read_text().replace("[network]", "[network]\ntimeuot = 5"))
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: log_file.read_text().count("reload refused") == 2, timeout=30)
        refused = [line for line in log_file.read_text().splitlines() if "reload refused" in line][-1]
        assert "watcher.toml" in refused and "network.timeuot" in refused, refused
        polled = len(server.requests_for("/feed.xml"))
        wait_for(lambda: len(server.requests_for("/feed.xml")) >= polled + 2, timeout=30)
        assert daemon.poll() is None  # still up, still polling, on the last good config
    finally:
        code = stop_daemon(daemon)
    assert code == 0, log_file.read_text()


def embedding_workers(parent: int) -> list[int]:
    """The embedding worker processes (issue 12) whose parent is ``parent``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"watcher.match.embedding_worker" in cmdline:
            found.append(int(proc.name))
    return found


def test_sighup_keeps_one_embedding_worker_and_stopping_ends_it(tmp_path, server):
    """The default pack compares articles in meaning in a worker process: a reload reuses it (a
    daemon reloaded every day would otherwise gather one ~100 MB process per SIGHUP), and the
    daemon's end ends it."""
    room = Newsroom(server)
    room.add_seed_articles()
    config = every_second(write_config(tmp_path, [("Example News", room.publish())], fetch_article=False))
    log_file = tmp_path / "daemon.log"
    db = tmp_path / "watcher.db"
    daemon = start_logged(config, log_file)
    try:
        wait_for(lambda: count(db, "SELECT count(*) FROM articles") == 5, timeout=120)
        wait_for(lambda: len(embedding_workers(daemon.pid)) == 1, timeout=60)
        (first,) = embedding_workers(daemon.pid)
        for reloads in (1, 2):
            daemon.send_signal(signal.SIGHUP)
            wait_for(lambda n=reloads: log_file.read_text().count("reloaded") == n, timeout=60)
        polled = len(server.requests_for("/feed.xml"))
        wait_for(lambda: len(server.requests_for("/feed.xml")) >= polled + 2, timeout=30)
        assert embedding_workers(daemon.pid) == [first]
    finally:
        code = stop_daemon(daemon)
    assert code == 0, log_file.read_text()
    assert (
        not Path(f"/proc/{first}").exists()
        or b"embedding_worker" not in Path(f"/proc/{first}/cmdline").read_bytes()
    )
