"""A `format = "json"` channel: a real `watcher run --once` posts structured
alerts to a loopback webhook, with every field the documentation promises."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from newsroom import Newsroom, article_html, seed_texts, write_config

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = "https://watcher.example.org/review"


def documented_payload() -> dict:
    """The example payload README.md shows (the JSON block under "Structured webhooks")."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Structured webhooks") :]
    block = re.search(r"```json\n(.*?)\n```", section, re.S)
    assert block, "README.md shows no example payload"
    return json.loads(block.group(1))


def test_a_loopback_webhook_receives_every_documented_field(tmp_path, server, hook):
    room = Newsroom(server)
    room.add_seed_articles()
    second = Newsroom(server)  # the same stories on a second outlet's own pages
    for name, text in seed_texts():
        title = text.strip().splitlines()[0][:120]
        second.add(f"/second/{name}.html", title, article_html(title, text, "Second Outlet"))
    second.publish("/b.xml", "Second Outlet")
    config = write_config(
        tmp_path,
        [("Example News", server.url("/feed.xml")), ("Second Outlet", server.url("/b.xml"))],
        extra=f"""
[serve]
public_url = "{PUBLIC}"

[[channels]]
name = "machines"
url = "{hook.url("alerts/t0ken")}"
format = "json"
""",
    )
    room.publish()
    run = subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(config), "run", "--once"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert hook.posts, run.stdout + run.stderr
    documented = documented_payload()
    with sqlite3.connect(tmp_path / "watcher.db") as db:
        db.row_factory = sqlite3.Row
        sent = db.execute("SELECT count(*) FROM alerts WHERE status = 'sent'").fetchone()[0]
        assert sent == len(hook.posts)
        for post in hook.posts:
            assert post.path == "/alerts/t0ken"
            assert post.headers["Content-Type"].startswith("application/json")
            body = post.payload
            assert set(body) == set(documented), sorted(set(body) ^ set(documented))
            assert body["event"] == "alert"
            article = db.execute(
                "SELECT a.*, f.name AS feed FROM articles a JOIN feeds f ON f.id = a.feed_id WHERE a.id = ?",
                (body["article_id"],),
            ).fetchone()
            assert article is not None and body["story_id"] == article["story_id"]
            assert body["url"] == article["url"] and body["title"] == article["title"]
            assert body["feed"] == article["feed"] and body["published"] == article["published"]
            assert body["article_page"] == f"{PUBLIC}/article/{body['article_id']}"
            assert body["outlets"][0] == article["feed"]
            assert body["spread"] is None  # no story here spread (test_relevance_e2e has one that does)
            stored = {
                r["rule_id"]: r
                for r in db.execute("SELECT * FROM matches WHERE article_id = ?", (body["article_id"],))
            }
            assert body["rules"], body
            for rule in body["rules"]:
                assert set(rule) == set(documented["rules"][0])
                row = stored[rule["id"]]
                assert (rule["title"], rule["severity"], rule["score"], rule["via"], rule["similar_to"]) == (
                    row["rule_title"],
                    row["severity"],
                    row["score"],
                    row["via"],
                    row["similar_to"],
                )
                assert 0 < len(rule["hits"]) <= 5
                for hit in rule["hits"]:
                    assert set(hit) == set(documented["rules"][0]["hits"][0])
                    assert hit["term"] and hit["field"] in ("title", "text", "summary")
    # both outlets carried every story (the same links): each alert names both, once
    assert all(sorted(p.payload["outlets"]) == ["Example News", "Second Outlet"] for p in hook.posts), [
        p.payload["outlets"] for p in hook.posts
    ]


def test_notify_test_and_check_for_a_json_channel(tmp_path, server, hook):
    config = write_config(
        tmp_path,
        [("Example News", server.url("/feed.xml"))],
        extra=f"""
[[channels]]
name = "machines"
url = "{hook.url("t")}"
format = "json"
""",
    )

    def watcher(*args):
        return subprocess.run(
            [sys.executable, "-m", "watcher", "--config", str(config), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert watcher("check").returncode == 0
    sent = watcher("notify", "--test", "machines")
    assert sent.returncode == 0, sent.stderr
    assert "webhook: HTTP 200" in sent.stdout
    assert hook.posts[-1].payload["event"] == "test" and hook.posts[-1].payload["channel"] == "machines"
    hook.status = 500
    failed = watcher("notify", "--test", "machines")
    assert failed.returncode == 1 and "webhook: HTTP 500" in failed.stderr


def test_a_json_channel_needs_a_web_address_and_immediate_mode(tmp_path, server):
    config = write_config(
        tmp_path,
        [("Example News", server.url("/feed.xml"))],
        extra="""
[[channels]]
name = "wrong"
url = "mailto://me:p4ssw0rdX@example.org"
format = "json"
mode = "digest"
""",
    )
    out = subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(config), "check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert 'channels[0].format: format = "json" posts a structured alert to a web address' in out.stderr
    assert 'channels[0].mode: format = "json" sends one alert per POST' in out.stderr
    assert "p4ssw0rdX" not in out.stderr
