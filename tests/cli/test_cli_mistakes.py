"""The command line under user mistakes and odd states, as a user runs it
(`python -m watcher` in a subprocess): every mistake ends in one line on
stderr that names what is wrong and how to fix it, exit code 2 — never a
traceback. Ctrl-C ends `run --once` and `backtest` with a short message
(exit 130), and the next run picks up what the interrupted one left.

One database per module, filled by a real `watcher run --once` against a
small loopback outlet (two seed articles and one unrelated real page)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from httpserver import LoopbackServer
from newsroom import Newsroom, write_config
from support import rows, start_watcher, watcher, watcher_process

from watcher.daemon.lock import InstanceLock

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "tests" / "data" / "review_rules" / "v1"  # tr-sy-defence, drones, football


def cli(config: Path | None, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """A user's `watcher [--config CONFIG] ARGS...` on a 120-column terminal."""
    options = ["--config", str(config)] if config else []
    return watcher_process(*options, *args, cwd=ROOT, env={"COLUMNS": "120", **(env or {})})


def with_database(world: Path, folder: Path, database: str) -> Path:
    """A copy of the world's config pointing at another database path."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "watcher.toml"
    config.write_text(
        (world / "watcher.toml").read_text(encoding="utf-8").replace(str(world / "watcher.db"), database),
        encoding="utf-8",
    )
    config.chmod(0o600)  # it holds a channel URL: `watcher check` warns otherwise
    return config


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A database filled by a real run; the server stays up for the module."""
    folder = tmp_path_factory.mktemp("mistakes")
    with LoopbackServer() as server:
        room = Newsroom(server)
        room.add_seed_articles()
        del room.stories[2:]
        room.add_real_pages(1)
        feed = room.publish("/feed.xml")
        server.route("/hook", body=b"{}", content_type="application/json")
        server.route("/broken.xml", body=b"gone fishing", status=404)
        write_config(
            folder,
            [("Example News", feed), ("Broken Wire", server.url("/broken.xml"))],
            rules=RULES,
            extra=(f'[[channels]]\nname = "desk"\nurl = "json://127.0.0.1:{server.port}/hook"\n'),
        )
        result = watcher(folder / "watcher.toml", "run", "--once")
        assert result.exit_code == 3, result.output  # Broken Wire failed
        assert rows(folder, "SELECT count(*) AS n FROM articles")[0]["n"] == 3
        yield folder


@pytest.fixture(scope="module")
def odd(world, tmp_path_factory):
    """Configs and files in odd states, keyed by name."""
    base = tmp_path_factory.mktemp("odd")
    (base / "afile").write_text("not a folder")
    (base / "notes.db").write_text("shopping list: bread, milk\n")
    newer = base / "newer.db"
    newer.write_bytes((world / "watcher.db").read_bytes())
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    (base / "readonly").mkdir()
    (base / "readonly").chmod(0o555)
    (base / "empty-seeds").mkdir()
    (base / "empty.txt").write_bytes(b"")
    (base / "binary.dat").write_bytes(bytes(range(256)) * 40)
    (base / "docs.jsonl").write_text(
        '{"id": 1, "title": "Turkey and Syria sign defence pact", "text": ""}\nthis line is not JSON\n',
        encoding="utf-8",
    )
    (base / "broken.toml").write_text("[watcher\n", encoding="utf-8")
    (base / "latin1.toml").write_bytes('[watcher]\ndatabase = "günlük.db"\n'.encode("latin-1"))
    return {
        "base": base,
        "broken toml": base / "broken.toml",
        "latin-1 config": base / "latin1.toml",
        "missing config": base / "nope.toml",
        "no folder": with_database(world, base / "c1", str(base / "no" / "such" / "folder" / "watcher.db")),
        "parent is a file": with_database(world, base / "c2", str(base / "afile" / "watcher.db")),
        "read-only folder": with_database(world, base / "c3", str(base / "readonly" / "watcher.db")),
        "database is a folder": with_database(world, base / "c4", str(base / "empty-seeds")),
        "not sqlite": with_database(world, base / "c5", str(base / "notes.db")),
        "newer schema": with_database(world, base / "c6", str(newer)),
    }


# (case, config key or None for the world's config, args, exit code, words the message must hold)
CASES = [
    ("missing config", "missing config", ["status"], 2, ["nope.toml", "not found", "--config"]),
    ("config is a folder", "base", ["status"], 2, ["is a folder", "--config"]),
    ("config not TOML", "broken toml", ["log"], 2, ["broken.toml", "not valid TOML", "line 1"]),
    (
        "config not UTF-8",
        "latin-1 config",
        ["log"],
        2,
        ["latin1.toml", "not UTF-8", "save the file as UTF-8"],
    ),
    (
        "database folder missing",
        "no folder",
        ["status"],
        2,
        ["does not exist", "mkdir -p", "[watcher] database"],
    ),
    ("database folder missing (run)", "no folder", ["run", "--once"], 2, ["does not exist", "mkdir -p"]),
    ("database folder missing (check)", "no folder", ["check"], 2, ["does not exist", "[watcher] database"]),
    (
        "database inside a file",
        "parent is a file",
        ["log"],
        2,
        ["afile", "not a folder", "[watcher] database"],
    ),
    (
        "database folder read-only",
        "read-only folder",
        ["status"],
        2,
        ["readonly", "write", "[watcher] database"],
    ),
    ("database is a folder", "database is a folder", ["status"], 2, ["is a folder", "[watcher] database"]),
    ("database is a text file", "not sqlite", ["log"], 2, ["notes.db", "not a watcher database"]),
    ("database from a newer watcher", "newer schema", ["status"], 2, ["schema version 99", "upgrade"]),
    ("show unknown id", None, ["show", "999999"], 2, ["no article 999999", "watcher log"]),
    ("show non-number", None, ["show", "abc"], 2, ["'abc' is not an article id", "watcher log"]),
    ("show without id", None, ["show"], 2, ["missing argument", "watcher show [OPTIONS] ID"]),
    ("feedback unknown id", None, ["feedback", "999", "relevant"], 2, ["no article 999"]),
    ("feedback bad verdict", None, ["feedback", "1", "maybe"], 2, ["'maybe'", "relevant", "irrelevant"]),
    ("log bad --since", None, ["log", "--since", "yesterday-ish"], 2, ["--since", "yesterday-ish", "2d"]),
    (
        "log bad --severity",
        None,
        ["log", "--severity", "extreme"],
        2,
        ["--severity", "'extreme'", "critical"],
    ),
    (
        "log unknown --rule",
        None,
        ["log", "--rule", "no-such-rule"],
        2,
        ["no-such-rule", "known rules", "tr-sy-defence", "football"],
    ),
    (
        "log unknown --feed",
        None,
        ["log", "--feed", "example news"],
        2,
        ["'example news'", "did you mean 'Example News'"],
    ),
    ("export unknown --rule", None, ["export", "--rule", "nope"], 2, ["'nope'", "known rules"]),
    ("log negative --limit", None, ["log", "--limit", "-5"], 2, ["--limit", "-5"]),
    ("search empty", None, ["search", ""], 2, ["empty", "words"]),
    ("export as xml", None, ["export", "--format", "xml"], 2, ["--format", "'xml'", "jsonl", "csv"]),
    (
        "export to a missing folder",
        None,
        ["export", "-o", "/nonexistent/out.jsonl"],
        2,
        ["/nonexistent/out.jsonl", "no such file"],
    ),
    (
        "backtest missing rules",
        None,
        ["backtest", "--rules", "/nonexistent"],
        2,
        ["/nonexistent", "does not exist"],
    ),
    ("retry unknown alert", None, ["alerts", "retry", "999"], 2, ["no alert with id 999", "watcher alerts"]),
    ("retry nothing", None, ["alerts", "retry"], 2, ["IDs", "--dead", "--all"]),
    (
        "notify unknown channel",
        None,
        ["notify", "--test", "nosuchchannel"],
        2,
        ["nosuchchannel", "channels: desk"],
    ),
    ("match missing file", None, ["match", "/nonexistent.txt"], 2, ["/nonexistent.txt", "no such file"]),
    ("match a folder", None, ["match", "{base}"], 2, ["{base}", "directory"]),
    ("match a binary file", None, ["match", "{base}/binary.dat"], 2, ["binary.dat", "not a text file"]),
    ("match an empty file", None, ["match", "{base}/empty.txt"], 2, ["empty.txt", "empty"]),
    ("match bad rules", None, ["match", "--rules", "{base}/notes.db", "{base}/empty.txt"], 2, ["notes.db"]),
    (
        "derive from an empty folder",
        None,
        ["rules", "derive", "{base}/empty-seeds"],
        2,
        ["empty-seeds", "no .txt"],
    ),
    (
        "derive into a missing folder",
        None,
        ["rules", "derive", str(ROOT / "seeds"), "-o", "/nonexistent/d.toml"],
        2,
        ["-o /nonexistent/d.toml", "existing folder"],
    ),
    (
        "derive from a missing folder",
        None,
        ["rules", "derive", "/nonexistent"],
        2,
        ["/nonexistent", "does not exist"],
    ),
    ("unknown command", None, ["stats"], 2, ["no such command 'stats'", "status"]),
    (
        "option without its value",
        None,
        ["feedback", "1", "relevant", "--note"],
        2,
        ["watcher feedback: option '--note' requires an argument", "watcher feedback --help"],
    ),
    ("unknown option", None, ["log", "--colour"], 2, ["--colour", "watcher log --help"]),
]


@pytest.mark.parametrize("case, key, args, code, words", CASES, ids=[c[0] for c in CASES])
def test_a_mistake_is_one_line_naming_it(world, odd, case, key, args, code, words):
    if case == "database folder read-only" and os.geteuid() == 0:
        pytest.skip("root writes in read-only folders")
    config = world / "watcher.toml" if key is None else odd[key]
    base = str(odd["base"])
    out = cli(config, *[a.replace("{base}", base) for a in args])
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == code, (out.returncode, out.stderr)
    message = out.stderr.strip()
    assert "\n" not in message, message  # one line
    assert message.startswith("watcher"), message
    for word in words:
        assert word.replace("{base}", base).lower() in message.lower(), (word, message)


def test_a_missing_config_from_the_environment_says_so(tmp_path):
    out = cli(None, "log", env={"WATCHER_CONFIG": str(tmp_path / "gone.toml")})
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith(f"watcher: {tmp_path / 'gone.toml'} (from $WATCHER_CONFIG): file not found")


def test_a_database_that_cannot_be_created_is_named(world, tmp_path):
    """A folder SQLite cannot create files in (as root, /proc refuses)."""
    folder = Path("/proc") if os.geteuid() == 0 else tmp_path / "ro"
    if folder != Path("/proc"):
        folder.mkdir()
        folder.chmod(0o555)
    config = with_database(world, tmp_path / "c", str(folder / "watcher.db"))
    out = cli(config, "run", "--once")  # the one command that creates the database
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert str(folder) in out.stderr and "[watcher] database" in out.stderr


def test_read_only_commands_never_create_a_database(world, tmp_path):
    config = with_database(world, tmp_path / "c", str(tmp_path / "c" / "new.db"))
    for command in (["status"], ["log"], ["feeds"], ["search", "x"], ["alerts"], ["rules", "stats"]):
        out = cli(config, *command)
        assert out.returncode == 2, (command, out.stderr)
        assert out.stderr == (
            f"watcher: no database yet at {tmp_path / 'c' / 'new.db'}: run `watcher run --once` "
            "first (it polls the feeds and creates it)\n"
        ), command
        assert not (tmp_path / "c" / "new.db").exists(), command


def test_match_jsonl_with_a_bad_line_keeps_lines_aligned(world, odd):
    out = cli(world / "watcher.toml", "match", "--jsonl", str(odd["base"] / "docs.jsonl"))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    lines = out.stdout.splitlines()
    assert (
        len(lines) == 2 and '"matched": true' in lines[0] and '"error": "line 2: not valid JSON' in lines[1]
    )
    assert "docs.jsonl:2: not valid JSON" in out.stderr


def test_serve_on_a_port_in_use(world):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = cli(world / "watcher.toml", "serve", "--port", str(port))
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"127.0.0.1:{port}" in out.stderr and "--port" in out.stderr
    assert "\n" not in out.stderr.strip()


def test_a_second_run_is_refused_while_one_holds_the_lock(world):
    with InstanceLock(world / "watcher.db"):
        out = cli(world / "watcher.toml", "run", "--once")
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"pid {os.getpid()}" in out.stderr and "already running" in out.stderr


def test_check_names_every_problem_of_a_good_config_as_ok(world):
    out = cli(world / "watcher.toml", "check")
    assert out.returncode == 0, out.stderr
    assert "OK" in out.stdout and "1 channel(s)" in out.stdout


def test_tables_fit_a_120_column_terminal(world):
    for args in (["log"], ["feeds"], ["alerts"], ["rules", "stats"]):
        out = cli(world / "watcher.toml", *args)
        assert out.returncode == 0, out.stderr
        widest = max(len(line) for line in out.stdout.splitlines())
        assert widest <= 120, (args, widest, out.stdout)
    piped = cli(world / "watcher.toml", "log", env={"COLUMNS": ""})
    assert max(len(line) for line in piped.stdout.splitlines()) > 120  # pipes get whole headlines


def _start(config: Path, *args: str) -> subprocess.Popen:
    return start_watcher("--config", str(config), *args, cwd=ROOT)


def test_ctrl_c_during_run_once_stops_cleanly_and_the_next_run_goes_on(tmp_path):
    with LoopbackServer() as server:
        room = Newsroom(server, page_delay=1.0)
        room.add_seed_articles()
        config = write_config(tmp_path, [("Slow News", room.publish("/feed.xml"))], rules=RULES)
        run = _start(config, "run", "--once")
        while len([r for r in server.requests if r.path.startswith("/news/")]) < 2:
            assert run.poll() is None, run.communicate()
            time.sleep(0.02)
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=60)
        assert run.returncode == 130 and "Traceback" not in err, err
        assert (
            err.strip()
            .splitlines()[-1]
            .startswith("watcher: interrupted; the entries stored so far are kept")
        )
        stored = rows(tmp_path, "SELECT count(*) AS n FROM articles")[0]["n"]
        assert stored < 5
        feed = rows(tmp_path, "SELECT consecutive_errors FROM feeds")[0]
        assert feed["consecutive_errors"] == 0  # an interruption is not the feed's fault
        again = watcher(config, "run", "--once")
        assert again.exit_code == 0, again.output
        assert "polled 1 feed(s)" in again.output
        assert " INFO " not in again.output  # --once: its summary, warnings only
        assert rows(tmp_path, "SELECT count(*) AS n FROM articles")[0]["n"] == 5


def test_ctrl_c_during_backtest_is_a_short_message(world, tmp_path):
    """A log of a few thousand articles, so the backtest is still matching when Ctrl-C comes."""
    database = tmp_path / "big.db"
    database.write_bytes((world / "watcher.db").read_bytes())
    with sqlite3.connect(database) as conn:
        conn.execute("""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
            INSERT INTO articles (feed_id, url, canonical_url, title, fetched_at, updated_at, text, extraction)
            SELECT feed_id, url, canonical_url || '#copy' || i, title, fetched_at, updated_at, text, extraction
            FROM articles, n""")
    config = with_database(world, tmp_path / "c", str(database))
    run = _start(config, "backtest")
    seen = ""
    while "matching stored articles" not in seen:
        chunk = run.stderr.read(1)
        assert chunk, run.communicate()
        seen += chunk
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130 and "Traceback" not in seen + err, seen + err
    assert (
        err.strip().splitlines()[-1] == "watcher: backtest interrupted; it writes nothing, so nothing changed"
    )
    assert "article(s) scanned" not in out


def test_a_second_run_says_which_feeds_it_left_alone(world, tmp_path):
    database = tmp_path / "copy.db"
    database.write_bytes((world / "watcher.db").read_bytes())
    config = with_database(world, tmp_path / "c", str(database))
    out = cli(config, "run", "--once")
    assert out.returncode == 0, out.stderr
    assert "polled 1 feed(s): 0 new entries" in out.stdout
    assert "1 feed(s) left alone (backing off after errors" in out.stdout
    feeds = cli(config, "feeds")
    broken = next(line for line in feeds.stdout.splitlines() if line.startswith("Broken Wire"))
    assert broken.split()[2] == "failing" and broken.endswith("HTTP 404")  # no URL repeated


def test_terminal_escapes_in_stored_text_never_reach_the_terminal(world, tmp_path):
    """Feed text is untrusted: a title or text holding escapes (window title,
    clear screen), a carriage return or a bidi override is shown without them."""
    database = tmp_path / "copy.db"
    database.write_bytes((world / "watcher.db").read_bytes())
    evil = "Pact \x1b]0;pwned\x07signed\r in \u202eAnkara \x1b[2J"
    with sqlite3.connect(database) as conn:
        article = conn.execute("SELECT id FROM articles WHERE matched = 1 ORDER BY id LIMIT 1").fetchone()[0]
        conn.execute(
            "UPDATE articles SET title = ?, text = text || ? WHERE id = ?", (evil, " " + evil, article)
        )
    config = with_database(world, tmp_path / "c", str(database))
    for args in (["log"], ["show", str(article)], ["search", "pact"], ["alerts"]):
        out = cli(config, *args)
        assert out.returncode == 0, (args, out.stderr)
        assert not {"\x1b", "\x07", "\r", "\u202e"} & set(out.stdout), (args, out.stdout)
    assert "]0;pwnedsigned in Ankara [2J" in cli(config, "show", str(article), "--no-text").stdout
