"""The spine end to end: real feeds and pages on a loopback server, the real
libraries, `watcher run --once` through the CLI, and what a user then sees."""

import html
import json
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

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
    assert result.exit_code == 3, result.output  # the pass completed; some feeds failed
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
    listed = {json.loads(ln)["name"]: json.loads(ln) for ln in health.stdout.splitlines()}
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
    assert result.exit_code == 3  # the feed failed
    feed = rows(tmp_path, "SELECT * FROM feeds")[0]
    assert feed["last_status"] == "error"
    assert "private" in feed["last_error"].lower()
    assert server.requests == []


# -- issue 15 item 2: a fragment that names the item -------------------------------------------

SCRIPTING_NEWS = Path(__file__).resolve().parent / "data" / "scripting-news"


def scripting_news_rss(server, days=("2017-06-24", "2017-06-25")) -> bytes:
    """The two real days published as scripting.com/rss.xml publishes them: one item
    per top-level post, link and guid the day's page plus ``#a`` and the post's time."""
    items = []
    for day in days:
        posts = json.loads((SCRIPTING_NEWS / f"{day}.json").read_text(encoding="utf-8"))["subs"]
        page = server.url("/" + day.replace("-", "/", 1).replace("-", "/") + ".html")
        for post in posts:
            when = parsedate_to_datetime(post["created"])
            text = " ".join([post["text"], *(s["text"] for s in post.get("subs", []))])
            link = f"{page}#a{when:%H%M%S}"
            items.append(
                f"<item><description>{html.escape(text)}</description>"
                f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>"
                f"<link>{link}</link><guid>{link}</guid></item>"
            )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Scripting News</title>'
        f"<link>{server.url('/')}</link><description>It's even worse than it appears..</description>"
        + "".join(reversed(items))
        + "</channel></rss>"
    ).encode()


def test_item02_fragments_that_name_items_keep_them_apart(tmp_path, server):
    server.route("/rss.xml", body=scripting_news_rss(server), content_type="application/rss+xml")
    for day in ("2017/06/24", "2017/06/25"):  # the day pages hold every post of the day
        server.route(f"/{day}.html", body=b"<html><body><p>all posts</p></body></html>")
    config = write_config(tmp_path, [("Scripting News", server.url("/rss.xml"))])
    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output
    articles = rows(tmp_path, "SELECT url, canonical_url, text, extraction FROM articles")
    assert len(articles) == 17  # 11 + 6 posts; the fragment-less identity kept 2
    assert len({a["canonical_url"] for a in articles}) == 17
    assert all("#a" in a["canonical_url"] for a in articles)
    dan = next(a for a in articles if "Dan Shafer" in a["text"])
    assert dan["canonical_url"].endswith("/2017/06/25.html#a125623") and dan["extraction"] == "summary"
    # The shared day page is not fetched once per post (its text is every post's).
    assert server.requests_for("/2017/06/24.html") == server.requests_for("/2017/06/25.html") == []
    # Stored once: the next poll finds nothing new.
    assert watcher(config, "run", "--once").exit_code == 0
    assert len(rows(tmp_path, "SELECT id FROM articles")) == 17


def test_item02_comments_fragments_still_fold(tmp_path, server, outlet):
    """The same article linked as ``…#comments`` (or ``#respond``) by another feed, or
    twice in one feed under two GUIDs, is one article."""
    story = outlet.stories[0]
    items = [
        (story.title, server.url(story.path) + "#comments", "urn:other:1"),
        (story.title + " (comments)", server.url(story.path) + "#respond", "urn:other:2"),
    ]
    body = "".join(
        f"<item><title>{html.escape(t)}</title><link>{link}</link><guid>{guid}</guid></item>"
        for t, link, guid in items
    )
    server.route(
        "/other.xml",
        body=f'<rss version="2.0"><channel><title>Other</title>{body}</channel></rss>'.encode(),
        content_type="application/rss+xml",
    )
    config = write_config(tmp_path, [("Example News", outlet.publish()), ("Other", server.url("/other.xml"))])
    assert watcher(config, "run", "--once").exit_code == 0
    assert len(rows(tmp_path, "SELECT id FROM articles")) == 8
    same = rows(
        tmp_path, "SELECT count(*) AS n FROM entries WHERE canonical_url = ?", (server.url(story.path),)
    )
    assert same[0]["n"] == 3  # three entries, one article


# -- issue 15 item 3: a deadline per poll --------------------------------------------------------


def test_item03_poll_deadline_cuts_the_poll_and_the_next_poll_picks_up_the_rest(tmp_path, server, outlet):
    hung = [s.path for s in outlet.stories]
    for path in hung:  # every article page hangs
        server.route(path, hang="before_headers")
    # keyword rules: the seconds counted here are the network's (the default pack's similarity
    # layer adds ~0.1-0.5 s per article behind its gate; bench/relevance.py measures it)
    rules = tmp_path / "keywords.toml"
    rules.write_text('[[rules]]\nid = "syria"\ntitle = "Syria"\ncondition = { terms = ["Syria"] }\n')
    config = write_config(
        tmp_path,
        [("Example News", outlet.publish())],
        rules=rules,
        timeout="2s",
        network='poll_deadline = "3s"',
        extraction="workers = 1",  # one page at a time, so the counts below are exact
    )
    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output  # the feed was read: not a failure
    feed = rows(tmp_path, "SELECT * FROM feeds")[0]
    assert (
        "poll_deadline" in feed["last_warning"] and "the rest wait for the next poll" in feed["last_warning"]
    )
    assert feed["etag"] is None  # so the next poll reads the whole feed, not a 304
    poll = rows(tmp_path, "SELECT * FROM polls")[0]
    assert poll["pages_tried"] == poll["pages_failed"] == 2  # 2 s + the 1 s the deadline left
    assert "poll's deadline" in poll["last_page_error"]
    reached = rows(tmp_path, "SELECT url FROM articles")
    assert len(reached) == 2 and sum(len(server.requests_for(p)) for p in hung) == 2
    # The pages answer again: the next poll stores the entries it did not reach (with
    # time for a fresh extraction worker to start on a busy machine).
    for story in outlet.stories:
        server.route(story.path, body=story.body, content_type="text/html; charset=utf-8")
    config.write_text(config.read_text().replace('poll_deadline = "3s"', 'poll_deadline = "120s"'))
    assert watcher(config, "run", "--once").exit_code == 0
    articles = rows(tmp_path, "SELECT url, extraction FROM articles")
    assert len(articles) == len(outlet.stories)
    assert sum(a["extraction"] == "full" for a in articles) == len(outlet.stories) - 2
    assert rows(tmp_path, "SELECT etag FROM feeds")[0]["etag"]
