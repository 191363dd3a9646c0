"""`watcher feeds add | remove | import | export` on loopback sites and real OPML files:
what is found is listed, the chosen source is added, the config's comments survive,
and `watcher check` accepts the result."""

from __future__ import annotations

import json

from newsroom import Newsroom, write_config
from sourcesite import DATA
from support import rows, watcher

from watcher.config import load
from watcher.parse.opml import read_opml

COMMENTED = """# My watcher — keep this comment
[watcher]
database = "{db}"   # the log
rules = ["{rules}"]

[network]
timeout = "5s"
allow_private = ["127.0.0.0/8"]  # the test servers

# Channels come after the feeds in this file.
# [[channels]] would go here
"""


def _config(tmp_path, root) -> object:
    path = tmp_path / "watcher.toml"
    path.write_text(COMMENTED.format(db=tmp_path / "watcher.db", rules=root / "rules"), encoding="utf-8")
    path.chmod(0o600)
    return path


def _home_page(server, feed_path: str = "/feed.xml") -> None:
    server.route(
        "/",
        (
            "<!DOCTYPE html><html><head><title>Example News</title>"
            f'<link rel="alternate" type="application/rss+xml" title="Example News RSS" href="{feed_path}">'
            '<link rel="stylesheet" href="/style.css"></head><body><h1>Example News</h1></body></html>'
        ).encode(),
        content_type="text/html; charset=utf-8",
    )


def test_feeds_add_on_a_home_page_adds_the_feed_its_link_alternate_names(tmp_path, server):
    from support import ROOT

    room = Newsroom(server)
    room.add_seed_articles()
    room.publish("/feed.xml")
    _home_page(server)
    path = _config(tmp_path, ROOT)

    result = watcher(path, "feeds", "add", server.url("/"), "--tag", "turkey")
    assert result.exit_code == 0, result.output
    assert server.url("/feed.xml") in result.output and "link rel" in result.output
    text = path.read_text(encoding="utf-8")
    assert text.startswith(COMMENTED.format(db=tmp_path / "watcher.db", rules=ROOT / "rules"))  # all kept
    config = load(path)
    assert [(f.url, f.name, f.tags, f.kind) for f in config.feeds] == [
        (server.url("/feed.xml"), "Example News", ("turkey",), "feed")
    ]
    assert watcher(path, "check").exit_code == 0
    # The added feed works.
    assert watcher(path, "run", "--once").exit_code == 0
    assert len(rows(tmp_path, "SELECT id FROM articles")) == len(room.stories)

    again = watcher(path, "feeds", "add", server.url("/"))
    assert again.exit_code == 2 and "already in" in again.stderr


def test_feeds_add_lists_sitemaps_of_robots_txt_and_adds_the_one_picked(tmp_path, server):
    from support import ROOT

    server.route(
        "/",
        b"<!DOCTYPE html><html><head><title>Ministry</title></head><body>Hi</body></html>",
        content_type="text/html; charset=utf-8",
    )
    server.route(
        "/robots.txt", f"User-agent: *\nDisallow:\nSitemap: {server.url('/news-sitemap.xml')}\n".encode()
    )
    server.route(
        "/news-sitemap.xml",
        (DATA / "sitemap" / "trafilatura_sitemap.xml").read_bytes(),
        content_type="application/xml",
    )
    path = _config(tmp_path, ROOT)
    listed = watcher(path, "feeds", "add", server.url("/"), "--list")
    assert listed.exit_code == 0, listed.output
    assert (
        "news-sitemap.xml" in listed.output and "[sitemap" in listed.output and "robots.txt" in listed.output
    )
    assert load(path).feeds == ()  # --list adds nothing

    added = watcher(path, "feeds", "add", server.url("/"), "--pick", "1", "--name", "Ministry sitemap")
    assert added.exit_code == 0, added.output
    feed = load(path).feeds[0]
    assert (feed.kind, feed.url, feed.name) == (
        "sitemap",
        server.url("/news-sitemap.xml"),
        "Ministry sitemap",
    )


def test_feeds_add_on_a_page_without_feeds_says_how_to_watch_it_as_an_index_page(tmp_path, server):
    from support import ROOT

    server.route(
        "/statements",
        b"<!DOCTYPE html><html><body><a href='/s/1'>One</a></body></html>",
        content_type="text/html; charset=utf-8",
    )
    path = _config(tmp_path, ROOT)
    result = watcher(path, "feeds", "add", server.url("/statements"))
    assert result.exit_code == 2
    assert "found no feed" in result.stderr and "--kind page" in result.stderr

    page = watcher(
        path,
        "feeds",
        "add",
        server.url("/statements"),
        "--kind",
        "page",
        "--selector",
        "a",
        "--name",
        "Statements",
    )
    assert page.exit_code == 0, page.output
    feed = load(path).feeds[0]
    assert (feed.kind, feed.selector, feed.name) == ("page", "a", "Statements")


def test_feeds_add_of_a_telegram_link_adds_the_channel(tmp_path):
    from support import ROOT

    path = _config(tmp_path, ROOT)
    result = watcher(path, "feeds", "add", "https://t.me/durov")
    assert result.exit_code == 0, result.output
    feed = load(path).feeds[0]
    assert (feed.kind, feed.channel, feed.url, feed.name) == (
        "telegram",
        "durov",
        "https://t.me/s/durov",
        "@durov",
    )


def test_opml_import_then_export_gives_the_same_feeds_and_comments_survive(tmp_path):
    from support import ROOT

    path = _config(tmp_path, ROOT)
    original = path.read_text(encoding="utf-8")
    source = DATA / "opml" / "donthypeme_feeds.opml"
    imported = watcher(path, "feeds", "import", str(source))
    assert imported.exit_code == 0, imported.output
    expected = read_opml(source.read_bytes()).feeds
    assert f"imported {len(expected)} feed(s)" in imported.output
    assert path.read_text(encoding="utf-8").startswith(original)
    assert watcher(path, "check").exit_code == 0

    exported = watcher(path, "feeds", "export")
    assert exported.exit_code == 0
    back = read_opml(exported.stdout.encode()).feeds
    assert sorted((f.url, f.title) for f in back) == sorted(
        (f.url, " ".join(f.title.split())) for f in expected
    )
    assert {f.url: set(f.tags) for f in back} == {
        f.url: {" ".join(t.replace(",", " ").replace("/", " ").split()) for t in f.tags} for f in expected
    }

    again = watcher(path, "feeds", "import", str(source))
    assert again.exit_code == 0 and "already configured" in again.output


def test_a_plenary_opml_with_bare_ampersands_imports_with_a_warning(tmp_path):
    from support import ROOT

    path = _config(tmp_path, ROOT)
    result = watcher(path, "feeds", "import", str(DATA / "opml" / "plenary_news.opml"))
    assert result.exit_code == 0, result.output
    assert "bare '&'" in result.stderr
    assert len(load(path).feeds) == len(read_opml((DATA / "opml" / "plenary_news.opml").read_bytes()).feeds)


def test_feeds_remove_cuts_out_one_feed_with_its_comment_and_keeps_the_rest(tmp_path, server):
    config = write_config(tmp_path, [("One", server.url("/1.xml")), ("Two", server.url("/2.xml"))])
    text = config.read_text(encoding="utf-8").replace(
        '[[feeds]]\nname = "Two"', '# the second feed\n[[feeds]]\nname = "Two"'
    )
    config.write_text(text, encoding="utf-8")
    result = watcher(config, "feeds", "remove", "Two")
    assert result.exit_code == 0, result.output
    after = config.read_text(encoding="utf-8")
    assert "# the second feed" not in after and 'name = "Two"' not in after and 'name = "One"' in after
    assert [f.name for f in load(config).feeds] == ["One"]
    missing = watcher(config, "feeds", "remove", "Three")
    assert missing.exit_code == 2 and "no feed" in missing.stderr and "One" in missing.stderr


def test_an_edit_that_would_break_the_config_leaves_the_file_untouched(tmp_path, server):
    config = write_config(tmp_path, [("One", server.url("/1.xml"))])
    before = config.read_text(encoding="utf-8")
    result = watcher(config, "feeds", "add", "https://t.me/durov", "--tag", "a,b")
    assert result.exit_code == 2 and "feeds[1].tags" in result.stderr
    assert config.read_text(encoding="utf-8") == before


def test_feeds_lists_kind_tags_and_paused_sources_and_filters_by_tag(tmp_path, server):
    extra = '[[feeds]]\nname = "Paused"\nurl = "{}"\nenabled = false\ntags = ["syria"]\n'.format(
        server.url("/p.xml")
    )
    config = write_config(tmp_path, [("One", server.url("/1.xml"))], extra=extra)
    watcher(config, "run", "--once")
    assert not server.requests_for("/p.xml")  # paused: never polled
    records = [json.loads(line) for line in watcher(config, "feeds", "--json").stdout.splitlines()]
    paused = next(r for r in records if r["name"] == "Paused")
    assert paused["status"] == "paused" and paused["tags"] == ["syria"]
    only = watcher(config, "feeds", "--tag", "syria").stdout
    assert "Paused" in only and "#syria" in only and "One" not in only
