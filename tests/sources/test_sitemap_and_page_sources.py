"""kind = "sitemap" and kind = "page" end to end on loopback: new URLs become
articles (fetched, extracted, matched), seen URLs are never fetched again, and
a sitemap index with a 1 GB child or a loop is bounded."""

from __future__ import annotations

import html
import json

from httpserver import zeros
from newsroom import Newsroom, write_config
from sourcesite import DATA, feed_table
from support import rows, watcher


def news_sitemap(room: Newsroom, server) -> bytes:
    """A Google News sitemap of the room's stories, in the form real news sitemaps take."""
    urls = "".join(
        f"<url><loc>{server.url(s.path)}</loc><lastmod>{s.published.isoformat()}</lastmod>"
        "<news:news><news:publication><news:name>Example News</news:name><news:language>en</news:language>"
        f"</news:publication><news:publication_date>{s.published.isoformat()}</news:publication_date>"
        f"<news:title>{html.escape(s.title)}</news:title></news:news></url>"
        for s in room.stories
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>'
    ).encode()


def index_page(room: Newsroom, server) -> bytes:
    """A ministry's statements list: article links among navigation links."""
    items = "".join(
        f'<li class="statement"><a href="{s.path}">{html.escape(s.title)}</a></li>'
        for s in reversed(room.stories)
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><title>Statements</title></head><body>'
        '<nav><a href="/">Home</a> <a href="/about">About</a> <a href="/contact">Contact</a></nav>'
        f'<ul class="statements">{items}</ul><footer><a href="/privacy">Privacy</a></footer></body></html>'
    ).encode()


def page_paths(server) -> list[str]:
    return [r.path for r in server.requests if r.path.startswith(("/news/", "/world/"))]


def test_a_news_sitemap_s_new_urls_become_matched_articles_and_seen_ones_are_not_fetched_again(
    tmp_path, server
):
    room = Newsroom(server)
    room.add_seed_articles()
    server.route("/news-sitemap.xml", news_sitemap(room, server), content_type="application/xml")
    config = write_config(
        tmp_path,
        [],
        extra=feed_table(kind="sitemap", name="Example sitemap", url=server.url("/news-sitemap.xml")),
    )

    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output
    articles = rows(tmp_path, "SELECT url, title, extraction, matched, language FROM articles")
    assert {a["url"] for a in articles} == {server.url(s.path) for s in room.stories}
    assert {a["extraction"] for a in articles} == {"full"}
    assert any(a["matched"] for a in articles)
    assert {a["title"] for a in articles} == {" ".join(s.title.split()) for s in room.stories}  # news:title
    fetched = page_paths(server)
    assert sorted(fetched) == sorted(s.path for s in room.stories)

    # A new story: only its page is fetched.
    room.add_real_pages(1)
    server.set_body("/news-sitemap.xml", news_sitemap(room, server))
    assert watcher(config, "run", "--once").exit_code == 0
    assert page_paths(server)[len(fetched) :] == [room.stories[-1].path]
    assert len(rows(tmp_path, "SELECT id FROM articles")) == len(room.stories)


def test_the_real_nytimes_news_sitemap_gives_the_newest_urls_with_their_titles(tmp_path, server):
    body = (DATA / "sitemap" / "nytimes_news_sitemap.xml").read_bytes()
    server.route("/sitemap_news.xml", body, content_type="application/xml")
    table = feed_table(
        kind="sitemap", name="NYT", url=server.url("/sitemap_news.xml"), max_entries=20, fetch_article=False
    )
    config = write_config(tmp_path, [], extra=table)
    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output
    articles = rows(tmp_path, "SELECT url, title, published FROM articles ORDER BY published DESC")
    assert len(articles) == 20  # max_entries: the newest 20 of 343
    assert articles[0]["published"].startswith("2011-04-18T11:06:36")
    assert articles[0]["title"] == "Facebook and Prineville, Ore., Become Friends"
    shown = json.loads(watcher(config, "feeds", "--json").stdout)
    assert shown["kind"] == "sitemap" and "max_entries" in shown["warning"]


def test_a_sitemap_index_with_a_1_gb_child_and_a_loop_is_bounded(tmp_path, server):
    room = Newsroom(server)
    room.add_seed_articles()
    server.route("/news.xml", news_sitemap(room, server), content_type="application/xml")
    server.route("/huge.xml", zeros(1 << 30), content_type="application/xml")  # 1 GiB, streamed as asked
    index = (
        '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{server.url('/huge.xml')}</loc></sitemap>"
        f"<sitemap><loc>{server.url('/index.xml')}</loc></sitemap>"  # itself: a loop
        f"<sitemap><loc>{server.url('/inner.xml')}</loc></sitemap>"
        f"<sitemap><loc>{server.url('/news.xml')}</loc></sitemap></sitemapindex>"
    ).encode()
    inner = index.replace(b"/inner.xml", b"/news.xml")  # names the outer index and its siblings again
    server.route("/index.xml", index, content_type="application/xml")
    server.route("/inner.xml", inner, content_type="application/xml")
    table = feed_table(kind="sitemap", name="Index", url=server.url("/index.xml"))
    config = write_config(tmp_path, [], extra=table, network="max_feed_bytes = 1_000_000")

    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output
    assert len(rows(tmp_path, "SELECT id FROM articles")) == len(room.stories)
    assert server.bytes_sent("/huge.xml") < 20_000_000  # cut at the cap, not read to the end
    assert len(server.requests_for("/index.xml")) == 1 and len(server.requests_for("/news.xml")) == 1
    warning = json.loads(watcher(config, "feeds", "--json").stdout)["warning"]
    assert "huge.xml" in warning and "1,000,000-byte limit" in warning and "a loop" in warning


def test_an_index_page_s_new_links_become_articles_and_seen_links_are_not_fetched_again(tmp_path, server):
    room = Newsroom(server)
    room.add_seed_articles()
    server.route("/statements", index_page(room, server), content_type="text/html; charset=utf-8")
    table = feed_table(
        kind="page",
        name="Ministry statements",
        url=server.url("/statements"),
        selector="li.statement a",
        tags=["official"],
    )
    config = write_config(tmp_path, [], extra=table)

    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output
    articles = rows(tmp_path, "SELECT url, extraction, title FROM articles")
    assert {a["url"] for a in articles} == {server.url(s.path) for s in room.stories}  # no nav links
    assert {a["extraction"] for a in articles} == {"full"}
    fetched = page_paths(server)

    room.add_real_pages(1)
    server.set_body("/statements", index_page(room, server))
    second = watcher(config, "run", "--once")
    assert second.exit_code == 0, second.output
    assert page_paths(server)[len(fetched) :] == [room.stories[-1].path]
    # The new link is not in its feed's first poll: undated, it is as old as its first sighting.
    newest = rows(tmp_path, "SELECT url FROM articles ORDER BY id DESC LIMIT 1")[0]
    assert newest["url"] == server.url(room.stories[-1].path)


def test_a_link_pattern_picks_the_article_links_of_an_index_page(tmp_path, server):
    room = Newsroom(server)
    room.add_seed_articles()
    room.add_real_pages(2)
    server.route("/statements", index_page(room, server), content_type="text/html; charset=utf-8")
    table = feed_table(
        kind="page",
        name="News only",
        url=server.url("/statements"),
        link_pattern="/news/[a-z0-9_-]+\\.html$",
        fetch_article=False,
    )
    config = write_config(tmp_path, [], extra=table)
    assert watcher(config, "run", "--once").exit_code == 0
    urls = {r["url"] for r in rows(tmp_path, "SELECT url FROM articles")}
    assert urls == {server.url(s.path) for s in room.stories if s.path.startswith("/news/")}


def test_a_selector_or_pattern_that_cannot_be_used_is_one_line_naming_file_and_key(tmp_path, server):
    table = feed_table(kind="page", url=server.url("/statements"), selector="li[", link_pattern="(a+)+$")
    config = write_config(tmp_path, [], extra=table)
    result = watcher(config, "check")
    assert result.exit_code == 2
    assert "feeds[0].selector" in result.stderr and "feeds[0].link_pattern" in result.stderr
    assert str(config) in result.stderr
