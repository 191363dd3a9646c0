"""`watcher alerts`, `watcher alerts retry`, `watcher notify --test`, as a user runs them."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from alerts_support import Clock, open_store, queue_story, write_config
from support import watcher as in_process
from support import watcher_process

from watcher.notify.sender import Sender

RULES = Path(__file__).resolve().parents[2] / "rules"


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def watcher(cfg, *args):
    """The CLI in this process (fast); `run` in a real process, as a user starts it."""
    if args[0] == "run":
        return watcher_process("--config", str(cfg.path), *args)
    result = in_process(cfg.path, *args)
    return Done(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def world(tmp_path, hooks):
    """Two channels; team-b was down until its alerts died."""
    up, down = hooks
    cfg = write_config(
        tmp_path,
        f"""
[[channels]]
name = "team-a"
url = "{up.url("a")}"

[[channels]]
name = "team-b"
url = "{down.url("b/SECRETPATH123")}"
""",
        alerts='max_attempts = 1\ngive_up_after = "1s"',
    )
    cfg.path.write_text(cfg.path.read_text().replace('rules = ["rules/"]', f'rules = ["{RULES}"]'))
    store = open_store(cfg)
    queue_story(store, cfg, "Ankara and Damascus sign a pact\x1b[2J\x1b]0;pwned\x07")
    queue_story(store, cfg, "Second story")
    down.status = 503
    clock = Clock()
    sender = Sender(store, cfg, clock, rng=random.Random(0))
    for _ in range(3):  # team-b is probed one alert at a time until both have died
        sender.drain()
        clock.advance(minutes=5)
    store.close()
    return cfg, up, down


def test_alerts_lists_the_outbox_with_last_errors(world):
    cfg, _, _ = world
    out = watcher(cfg, "alerts")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "0 pending, 0 sending, 2 sent, 2 dead" in out.stdout
    dead = [line for line in lines if " dead " in line]
    assert len(dead) == 2 and all("team-b" in line and "503" in line for line in dead)
    assert "Ankara and Damascus sign a pact" in out.stdout
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout  # no terminal escapes from feeds
    assert "watcher alerts retry --dead" in out.stdout
    assert "SECRETPATH123" not in out.stdout + out.stderr


def test_alerts_json_and_status_filter(world):
    cfg, _, _ = world
    out = watcher(cfg, "alerts", "--status", "dead", "--json")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["dead", "dead"]
    assert {r["channel"] for r in rows} == {"team-b"}
    assert all(
        r["last_error"].startswith(("JSON: Failed", "not tried, the channel had just failed: JSON"))
        for r in rows
    )


def test_retry_dead_then_run_once_sends_them_exactly_once(world):
    cfg, up, down = world
    down.status = 200
    out = watcher(cfg, "alerts", "retry", "--dead")
    assert out.returncode == 0 and out.stdout.startswith("2 alert(s) due now"), out.stderr
    run = watcher(cfg, "run", "--once")
    assert run.returncode == 0, run.stderr
    assert "alerts: 2 sent, 0 failed (will retry), 0 dead" in run.stdout
    assert sorted(down.titles()) == [
        "[Turkey–Syria defence] Ankara and Damascus sign a pact[2J]0;pwned",
        "[Turkey–Syria defence] Second story",
    ]
    assert len(up.titles()) == 2  # not resent
    again = watcher(cfg, "run", "--once")
    assert "alerts: 0 sent" in again.stdout and len(down.titles()) == 2
    assert "SECRETPATH123" not in run.stdout + run.stderr + again.stdout + again.stderr


def test_retry_one_id_and_refusals(world):
    cfg, _, down = world
    rows = [json.loads(line) for line in watcher(cfg, "alerts", "--json").stdout.splitlines()]
    dead = next(r["id"] for r in rows if r["status"] == "dead")
    sent = next(r["id"] for r in rows if r["status"] == "sent")
    out = watcher(cfg, "alerts", "retry", str(dead), str(sent))
    assert out.returncode == 0 and out.stdout.startswith("1 alert(s) due now")
    assert f"alert {sent} is sent; left alone" in out.stderr
    missing = watcher(cfg, "alerts", "retry", "9999")
    assert missing.returncode == 2 and "no alert with id 9999" in missing.stderr
    bare = watcher(cfg, "alerts", "retry")
    assert bare.returncode == 2 and "--dead" in bare.stderr and "Traceback" not in bare.stderr


def test_notify_test_sends_and_reports_the_answer(world):
    cfg, up, down = world
    out = watcher(cfg, "notify", "--test", "team-a")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"sent a test message to team-a (json://127.0.0.1:{up.port}/***): success")
    assert up.posts[-1].payload["title"] == "[watcher] test message"
    assert "channel team-a" in up.posts[-1].payload["message"]
    failed = watcher(cfg, "notify", "--test", "team-b")
    assert failed.returncode == 1
    assert "the test message to team-b" in failed.stderr and "503" in failed.stderr
    assert "SECRETPATH123" not in failed.stdout + failed.stderr
    unknown = watcher(cfg, "notify", "--test", "nope")
    assert unknown.returncode == 2 and "channels: team-a, team-b" in unknown.stderr
