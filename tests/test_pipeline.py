"""The spine end to end: real feeds and pages on a loopback server, the real
libraries, `watcher run --once` through the CLI, and what a user then sees."""

import json

import pytest
from newsroom import REAL_PAGES, Newsroom, write_config
from support import rows, watcher


@pytest.fixture
def outlet(server):
    room = Newsroom(server)
    room.add_seed_articles()
    room.add_real_pages(3)
    return room


def test_first_run_stores_every_article_with_full_text_and_matches_the_seeds(tmp_path, server, outlet):
    config = write_config(tmp_path, [("Example News", outlet.publish())])
    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output
    assert "8 articles stored" in result.output
    articles = rows(tmp_path, "SELECT * FROM articles ORDER BY id")
    assert len(articles) == 8
    assert {a["extraction"] for a in articles} == {"full"}
    seeds = [a for a in articles if "/news/" in a["url"]]
    assert all(a["matched"] for a in seeds), [a["title"] for a in seeds if not a["matched"]]
    assert "Murhaf" in " ".join(a["text"] for a in seeds) or "Kasra" in " ".join(a["text"] for a in seeds)
    assert all("All rights reserved" not in a["text"] for a in articles)  # boilerplate gone
    feed = rows(tmp_path, "SELECT * FROM feeds")[0]
    assert feed["last_status"] == "ok" and feed["etag"]

    exported = [json.loads(line) for line in watcher(config, "export", "--jsonl").stdout.splitlines()]
    assert len(exported) == 8
    first = exported[0]
    for key in ("id", "url", "feed", "title", "published", "fetched_at", "language", "text", "extraction"):
        assert key in first
    assert {e["feed"] for e in exported} == {"Example News"}


def test_second_run_is_conditional_gets_304_and_stores_nothing(tmp_path, server, outlet):
    config = write_config(tmp_path, [("Example News", outlet.publish())])
    assert watcher(config, "run", "--once").exit_code == 0
    pages_before = sum(1 for r in server.requests if r.path.startswith(("/news/", "/world/")))

    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output
    feed_requests = server.requests_for("/feed.xml")
    assert len(feed_requests) == 2
    assert (
        feed_requests[1].headers.get("if-none-match") == rows(tmp_path, "SELECT etag FROM feeds")[0]["etag"]
    )
    assert rows(tmp_path, "SELECT last_status, last_http_status FROM feeds")[0] == {
        "last_status": "not_modified",
        "last_http_status": 304,
    }
    assert len(rows(tmp_path, "SELECT id FROM articles")) == 8
    pages_after = sum(1 for r in server.requests if r.path.startswith(("/news/", "/world/")))
    assert pages_after == pages_before


def test_a_known_entry_is_never_fetched_again(tmp_path, server, outlet):
    config = write_config(tmp_path, [("Example News", outlet.publish())])
    assert watcher(config, "run", "--once").exit_code == 0
    late_page = sorted(REAL_PAGES.glob("*.html"))[5].read_bytes()
    new = outlet.add("/world/late.html", "A late report", late_page)
    outlet.publish()  # new body, new ETag
    assert watcher(config, "run", "--once").exit_code == 0
    fetched = [r.path for r in server.requests if r.path.startswith(("/news/", "/world/"))]
    assert fetched.count(new.path) == 1
    assert all(fetched.count(s.path) == 1 for s in outlet.stories)
    assert len(rows(tmp_path, "SELECT id FROM articles")) == 9


def test_one_bad_feed_never_stops_the_others(tmp_path, server, outlet):
    server.route("/broken.xml", status=500, body=b"oops")
    server.route("/gone.xml", status=410, body=b"")
    server.route("/slow.xml", status=429, headers=[("Retry-After", "3600")])
    server.route("/hang.xml", hang="before_headers")
    server.route("/html.xml", body=b"<html><body>Not a feed</body></html>", content_type="text/html")
    config = write_config(
        tmp_path,
        [
            ("Broken", server.url("/broken.xml")),
            ("Gone", server.url("/gone.xml")),
            ("Slow", server.url("/slow.xml")),
            ("Hang", server.url("/hang.xml")),
            ("Not a feed", server.url("/html.xml")),
            ("Good", outlet.publish()),
        ],
        timeout="2s",
    )
    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output
    assert "8 articles stored" in result.output
    feeds = {f["name"]: f for f in rows(tmp_path, "SELECT * FROM feeds")}
    assert feeds["Good"]["last_status"] == "ok"
    assert feeds["Broken"]["last_status"] == "error" and "500" in feeds["Broken"]["last_error"]
    assert feeds["Gone"]["gone"] == 1 and feeds["Gone"]["next_due"] is None
    assert feeds["Slow"]["last_status"] == "throttled"
    assert feeds["Hang"]["last_status"] == "error"
    assert "deadline" in feeds["Hang"]["last_error"]
    assert feeds["Not a feed"]["last_status"] == "error"

    health = watcher(config, "feeds", "--json")
    listed = {json.loads(l)["name"]: json.loads(l) for l in health.stdout.splitlines()}
    assert listed["Gone"]["status"] == "gone" and listed["Gone"]["next_due"] is None
    assert listed["Broken"]["errors"] == 1

    # The next --once polls healthy feeds again but leaves backing-off ones alone.
    watcher(config, "run", "--once")
    assert len(server.requests_for("/broken.xml")) == 1
    assert len(server.requests_for("/gone.xml")) == 1
    assert len(server.requests_for("/slow.xml")) == 1
    assert len(server.requests_for("/feed.xml")) == 2


def test_a_page_that_fails_falls_back_to_the_feed_summary(tmp_path, server):
    room = Newsroom(server)
    story = room.add_seed_articles()[0]
    server.route(story.path, status=503, body=b"down")
    config = write_config(tmp_path, [("Example News", room.publish())])
    assert watcher(config, "run", "--once").exit_code == 0
    failed = rows(tmp_path, "SELECT * FROM articles WHERE url LIKE ?", (f"%{story.path}",))[0]
    assert failed["extraction"] == "summary"
    assert failed["text"] == story.summary
    assert "503" in failed["extraction_error"]
    assert len(rows(tmp_path, "SELECT id FROM articles WHERE extraction = 'full'")) == 4


def test_private_addresses_are_refused_without_allow_private(tmp_path, server, outlet):
    config = write_config(tmp_path, [("Example News", outlet.publish())])
    config.write_text(config.read_text().replace('allow_private = ["127.0.0.0/8"]', "allow_private = []"))
    result = watcher(config, "run", "--once")
    assert result.exit_code == 0
    feed = rows(tmp_path, "SELECT * FROM feeds")[0]
    assert feed["last_status"] == "error"
    assert "private" in feed["last_error"].lower()
    assert server.requests == []
