"""kill -9 of `watcher run --once` at 50+ random moments while it matches and
sends, then a clean run to drain: every matched story reaches every channel
at least once, none is lost, and duplicates happen only where a kill fell
between a server accepting an alert and the `sent` commit (counted, printed).

To fit 50+ kills in well under a minute, each run is forked from a warm
parent that has already imported watcher (a plain exec costs ~1 s of imports
per run); the child runs the real CLI entry point, `watcher run --once`.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from alerts_support import Webhook
from httpserver import LoopbackServer
from newsroom import Newsroom, write_config

KILLS = 50
MEANING_KEYS = ("about", "like", "unlike", "min_similarity", "gate")


def keyword_pack(folder) -> Path:
    """The default pack without its similarity examples. Kills here must land while alerts are
    being sent; with the examples, every run first spends ~0.8 s starting the embedding worker and
    the language model, and ~0.15 s per on-topic article, so every kill lands before that."""
    pack = Path(__file__).resolve().parents[2] / "rules" / "turkey-syria-defence.toml"
    kept, depth = [], 0
    for line in pack.read_text(encoding="utf-8").splitlines():
        if depth == 0 and line.split("=")[0].strip() in MEANING_KEYS:
            depth = line.count("[") + line.count("{") - line.count("]") - line.count("}")
            continue
        if depth > 0:
            depth += line.count("[") + line.count("{") - line.count("]") - line.count("}")
            continue
        kept.append(line)
    folder.mkdir(exist_ok=True)
    (folder / "pack.toml").write_text("\n".join(kept) + "\n", encoding="utf-8")
    return folder


WORDS = [
    "harbour",
    "lantern",
    "orchard",
    "violin",
    "glacier",
    "copper",
    "meadow",
    "falcon",
    "quarry",
    "ribbon",
    "saddle",
    "tundra",
    "walnut",
    "beacon",
    "cobalt",
    "delta",
    "ember",
    "fjord",
    "garnet",
    "hollow",
    "ivory",
    "jasmine",
    "kestrel",
    "lagoon",
    "marble",
    "nectar",
    "onyx",
    "pebble",
    "quartz",
    "raven",
    "sierra",
    "timber",
    "umber",
    "velvet",
    "willow",
    "yonder",
    "zephyr",
    "amber",
    "basalt",
    "cedar",
    "dune",
    "estuary",
    "fern",
    "grove",
    "heron",
    "inlet",
    "juniper",
    "kelp",
    "lichen",
    "moss",
]

FORK_SERVER = r"""
import os, sys
import apprise, watcher.cli.main, watcher.pipeline, watcher.notify.sender, watcher.daemon.scheduler, watcher.match.rules, watcher.match.matcher
apprise.Apprise.instantiate("json://127.0.0.1:9/warm")      # load apprise's plugins once
args, log = sys.argv[1:-1], sys.argv[-1]
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(fd, 1); os.dup2(fd, 2)
        code = 0
        try:
            watcher.cli.main.main(args, prog_name="watcher")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback; traceback.print_exc(); code = 3
        finally:
            sys.stdout.flush(); sys.stderr.flush()
            os._exit(code)
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(status, flush=True)
"""


class Runs:
    """`watcher run --once` processes forked from one warm parent."""

    def __init__(self, config, log) -> None:
        self.parent = subprocess.Popen(
            [sys.executable, "-c", FORK_SERVER, "--config", str(config), "run", "--once", str(log)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def start(self) -> int:
        self.parent.stdin.write("go\n")
        self.parent.stdin.flush()
        return int(self.parent.stdout.readline())

    def wait(self) -> int:
        """The run's wait status (0: exited cleanly)."""
        return int(self.parent.stdout.readline())

    def close(self) -> None:
        self.parent.stdin.close()
        self.parent.wait(timeout=30)


def sending_rows(db) -> int:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute("SELECT count(*) FROM alerts WHERE status = 'sending'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def stored_articles(db) -> int:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


@pytest.fixture
def hooks():
    servers = [Webhook(), Webhook(), Webhook()]
    yield servers
    for server in servers:
        server.close()


def add_stories(room: Newsroom, rng: random.Random, count: int) -> None:
    for _ in range(count):
        n = len(room.stories)
        words = " ".join(rng.sample(WORDS, 30))
        room.add(
            f"/news/{n}.html",
            f"Report {n}: {' '.join(words.split()[:3])}",
            b"<html></html>",
            summary=f"Syrian defence minister Murhaf Abu Qasra met officials in Ankara. {words}",
        )


def test_kill_9_during_matching_and_sending_loses_no_alert(tmp_path, hooks):
    a, b, digest = hooks
    for hook in hooks:
        hook.delay = 0.02  # the window between the server's acceptance and our commit
    rng = random.Random(20261121)
    with LoopbackServer() as server:
        room = Newsroom(server)
        add_stories(room, rng, 4)
        feed = room.publish()
        config = write_config(
            tmp_path,
            [("Example News", feed)],
            rules=keyword_pack(tmp_path / "rules"),
            fetch_article=False,
            extra=f"""
[alerts]
backoff = "1s"
max_backoff = "2s"
max_attempts = 1000

[[channels]]
name = "team-a"
url = "{a.url("a")}"
format = "markdown"

[[channels]]
name = "team-b"
url = "{b.url("b")}"

[[channels]]
name = "digest"
url = "{digest.url("d")}"
mode = "digest"
digest_every = "1s"
""",
        )
        config.write_text(
            config.read_text().replace("fetch_article = false\n", 'fetch_article = false\ninterval = "1s"\n')
        )
        db = tmp_path / "watcher.db"
        runs = Runs(config, tmp_path / "runs.log")
        kills = kills_while_sending = kills_while_matching = clean_exits = 0
        try:
            while kills < KILLS:
                add_stories(room, rng, rng.choice((0, 1, 2)))  # new entries to match on most runs
                room.publish()
                pid = runs.start()
                time.sleep(rng.uniform(0.05, 0.6))
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                status = runs.wait()
                if os.WIFSIGNALED(status):
                    kills += 1
                    kills_while_sending += sending_rows(db) > 0
                    kills_while_matching += stored_articles(db) < len(room.stories)
                else:
                    clean_exits += 1
                    assert os.WEXITSTATUS(status) == 0, (tmp_path / "runs.log").read_text()[-3000:]
            # Restart and drain: clean runs until every alert is sent.
            time.sleep(1.1)  # the feed and the last digest period come due
            for _ in range(5):
                runs.start()
                assert runs.wait() == 0, (tmp_path / "runs.log").read_text()[-3000:]
                conn = sqlite3.connect(db)
                left = conn.execute("SELECT count(*) FROM alerts WHERE status != 'sent'").fetchone()[0]
                conn.close()
                if not left:
                    break
                time.sleep(1.1)
        finally:
            runs.close()

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stories = {
        r[0]: r[1]
        for r in conn.execute(
            "SELECT s.id, a.title FROM stories s JOIN articles a ON a.id = s.first_article_id "
            "WHERE a.matched = 1"
        )
    }
    alerts = Counter((r[0], r[1]) for r in conn.execute("SELECT story_id, status FROM alerts"))
    conn.close()
    headlines = {room_story.title for room_story in room.stories}
    assert set(stories.values()) == headlines, "every published story was stored, matched, once"
    assert alerts == Counter({(s, "sent"): 3 for s in stories}), "one sent alert per story and channel"

    def received(hook):
        return Counter(t.split("] ", 1)[1] for t in hook.titles())

    got_a, got_b = received(a), received(b)
    in_digests = Counter(
        h
        for p in digest.posts
        for h in headlines
        if f"] {h} —" in p.payload["message"] or f"\\] {h} —" in p.payload["message"]
    )
    for name, got in (("team-a", got_a), ("team-b", got_b), ("digest", in_digests)):
        missing = headlines - set(got)
        assert not missing, f"{name} never received {sorted(missing)[:5]}"
    duplicates = {
        name: sum(n - 1 for n in got.values())
        for name, got in (("team-a", got_a), ("team-b", got_b), ("digest items", in_digests))
    }
    print(
        f"\n{kills} kills ({kills_while_matching} before the feed's new entries were all stored, "
        f"{kills_while_sending} with alerts in flight), {clean_exits} runs finished before their kill; "
        f"{len(headlines)} stories x 3 channels; duplicates: {duplicates}"
    )
    assert kills_while_sending >= 5, "some kills must land while alerts are being sent"
    assert kills_while_matching >= 5, "some kills must land while entries are being matched and stored"
    # A duplicate needs a kill between acceptance and commit: at most one message per channel per kill.
    assert duplicates["team-a"] <= kills_while_sending and duplicates["team-b"] <= kills_while_sending


KILLED_MID_POST = r"""
import os, signal, socket, sys
port, body = int(sys.argv[1]), sys.argv[2].encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % len(body))
s.sendall(body[: len(body) // 3])  # then the sender is killed mid-request
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_item16_a_post_cut_short_by_kill_9_is_not_counted_as_delivered():
    """The crash test's receiver counts only complete requests it answered: a
    sender killed after its headers and part of its body delivered nothing."""
    hook = Webhook()
    try:
        body = '{"title": "[Turkey] cut short", "body": "...", "type": "info"}'
        killed = subprocess.run([sys.executable, "-c", KILLED_MID_POST, str(hook.port), body], timeout=30)
        assert killed.returncode == -signal.SIGKILL
        import socket

        whole = b'{"title": "[Turkey] whole", "body": "...", "type": "info"}'
        with socket.create_connection(("127.0.0.1", hook.port)) as s:
            s.sendall(
                b"POST /a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(whole), whole)
            )
            answer = s.makefile("rb").read()
        assert answer.startswith(b"HTTP/1.0 200") or answer.startswith(b"HTTP/1.1 200")
        assert hook.titles() == ["[Turkey] whole"] and hook.requests == 1
    finally:
        hook.close()


def test_the_daemon_sends_alerts_while_a_mail_server_hangs(tmp_path):
    """`watcher run` as a user starts it: matched stories reach the webhook at
    once although the SMTP server holds every mail; the mails follow when it
    answers again; SIGTERM stops it cleanly."""
    from alerts_support import Mailbox
    from support import start_watcher, wait_for

    hook, box = Webhook(), Mailbox()
    box.gate.clear()
    try:
        with LoopbackServer() as server:
            room = Newsroom(server)
            add_stories(room, random.Random(5), 3)
            config = write_config(
                tmp_path,
                [("Example News", room.publish())],
                fetch_article=False,
                extra=f"""
[[channels]]
name = "mail"
url = "{box.url()}"

[[channels]]
name = "hook"
url = "{hook.url()}"
""",
            )
            daemon = start_watcher("--config", str(config), "run")
            try:
                wait_for(lambda: len(hook.titles()) == 3, timeout=60)
                wait_for(box.entered.is_set, timeout=60)
                assert box.mails == []  # the first mail is still stuck
                box.gate.set()
                wait_for(lambda: len(box.mails) == 3, timeout=60)
                daemon.send_signal(signal.SIGTERM)
                out, err = daemon.communicate(timeout=60)
                assert daemon.returncode == 0, err
            finally:
                if daemon.poll() is None:
                    daemon.kill()
        titles = {s.title for s in room.stories}
        assert {t.split("] ", 1)[1] for t in hook.titles()} == titles
        assert {m.subject.split("] ", 1)[1] for m in box.mails} == titles
        assert box.PASSWORD not in out + err
    finally:
        hook.close()
        box.close()
