"""Sitemaps, sitemap indexes and Google News sitemaps: real files, a walk on loopback, hostile input."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest
from httpserver import gzip_bomb, zeros

from watcher.dedup.identity import canonical_url
from watcher.fetch.client import FetchError
from watcher.parse.feed import MAX_ENTRIES, FeedError
from watcher.parse.sitemap import MAX_URLS, parse_sitemap, walk_sitemaps

DATA = Path(__file__).resolve().parents[1] / "data" / "sources" / "sitemap"
NYT = (DATA / "nytimes_news_sitemap.xml").read_bytes()
SITEMAPS_ORG = (DATA / "trafilatura_sitemap.xml").read_bytes()
ERRORS = (FeedError, FetchError)
INDEX = (DATA / "trafilatura_sitemap_index.xml").read_bytes()
URLSET = b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'


def test_a_real_news_sitemap_gives_titles_dates_and_language_newest_first():
    sitemap = parse_sitemap(NYT, url="https://www.nytimes.com/sitemap_news.xml")
    entries = sitemap.feed.entries
    assert not sitemap.is_index and len(entries) == 343
    dates = [e.published for e in entries]
    assert all(dates) and dates == sorted(dates, reverse=True)
    first = entries[0]
    assert (
        first.url
        == first.guid
        == "http://bits.blogs.nytimes.com/2011/04/18/facebook-and-prineville-ore-become-friends/"
    )
    assert first.title == "Facebook and Prineville, Ore., Become Friends"
    assert first.published == datetime(2011, 4, 18, 11, 6, 36, tzinfo=UTC)
    assert first.language == "en" and sitemap.feed.language == "en"
    titles = {e.title for e in entries}
    assert "S&P" in titles and "AT&T Follows Its Customers Overseas" in titles  # CDATA
    assert sitemap.feed.warning is None


def test_a_plain_sitemap_dates_urls_by_lastmod():
    sitemap = parse_sitemap(SITEMAPS_ORG, url="https://www.sitemaps.org/sitemap.xml")
    assert len(sitemap.feed.entries) == 84
    assert sitemap.feed.entries[0].published == datetime(2016, 11, 21, tzinfo=UTC)
    assert sitemap.feed.entries[0].title == ""
    assert {e.url for e in sitemap.feed.entries} >= {
        "https://www.sitemaps.org/",
        "https://www.sitemaps.org/faq.html",
    }


def test_a_sitemap_index_lists_its_children_and_no_entries():
    sitemap = parse_sitemap(INDEX, url="http://www.example.com/sitemap_index.xml")
    assert sitemap.is_index and sitemap.feed.entries == ()
    assert sitemap.sitemaps == (
        "http://www.example.com/sitemap1.xml.gz",
        "http://www.example.com/sitemap2.xml.gz",
    )


def test_messy_real_world_values_are_read_and_bad_ones_skipped():
    body = URLSET + (
        b"<url><loc>\n\t\thttp://hukumonline.dev/berita/baca/lt50f901630e6d0/ky\n\t\t</loc>"
        b"<news:news xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'><news:publication_date>"
        b"\n\t\tFri, 18 Jan 2013 02:52:48 +0700\n\t</news:publication_date></news:news></url>"
        b"<url><loc>javascript:alert(1)</loc></url>"
        b"<url><loc>/relative/page</loc><lastmod>2024-01-25T04:30:07+01:00</lastmod></url>"
        b"<url><loc>https://x.example/a?b=1&c=2</loc></url>"  # a bare & (real exporters write these)
        b"</urlset>"
    )
    sitemap = parse_sitemap(body, url="https://x.example/sitemap.xml")
    urls = [e.url for e in sitemap.feed.entries]
    assert urls == [
        "https://x.example/relative/page",
        "http://hukumonline.dev/berita/baca/lt50f901630e6d0/ky",
        "https://x.example/a?b=1&c=2",
    ]
    assert sitemap.feed.entries[1].published == datetime(2013, 1, 17, 19, 52, 48, tzinfo=UTC)
    assert "1 <loc> values that are not http(s) URLs" in sitemap.feed.warning
    assert "bare '&'" in sitemap.feed.warning


def test_a_plain_text_sitemap_is_read():
    sitemap = parse_sitemap(
        b"https://a.example/1\nhttps://a.example/2\n\nhttps://a.example/1\n",
        url="https://a.example/sitemap.txt",
    )
    assert [e.url for e in sitemap.feed.entries] == [
        "https://a.example/1",
        "https://a.example/2",
    ]


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "empty document"),
        (b"<?xml version='1.0'?><rss version='2.0'><channel/></rss>", "is a feed"),
        (b"<!DOCTYPE html><html><body>hello</body></html>", "HTML page"),
        (b"<?xml version='1.0'?><catalog/>", "root element <catalog>"),
        (URLSET + b"<url><loc>https://a.example/1</loc>", "not well-formed"),
        (b"\x1f\x8b\x08\x00", "gzip data is cut short"),
        (b"\x1f\x8b\x08\x00garbage-garbage", "broken gzip"),
        (b"just some words\nnot urls", "neither XML nor a list of URLs"),
    ],
)
def test_what_is_not_a_sitemap_is_an_error_that_says_what_it_is(body, message):
    with pytest.raises(FeedError, match=message):
        parse_sitemap(body, url="https://a.example/sitemap.xml")


def test_a_truncated_sitemap_keeps_what_came_before_the_break():
    body = (
        URLSET + b"<url><loc>https://a.example/1</loc></url><url><loc>https://a.example/2</loc></url><url><lo"
    )
    sitemap = parse_sitemap(body, url="https://a.example/sitemap.xml")
    assert [e.url for e in sitemap.feed.entries] == [
        "https://a.example/1",
        "https://a.example/2",
    ]
    assert "not well-formed" in sitemap.feed.warning


def test_entity_declarations_are_never_expanded():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            b'<!ENTITY %c "&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;">' % ((c,) + (c - 1,) * 10)
            for c in range(ord("b"), ord("k"))
        )
        + b'<!ENTITY ext SYSTEM "file:///etc/passwd">]>'
        + b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://a.example/&j;&ext;</loc>'
        + b"</url></urlset>"
    )
    sitemap = parse_sitemap(bomb, url="https://a.example/sitemap.xml")
    assert [e.url for e in sitemap.feed.entries] == ["https://a.example/"]


def test_a_million_urls_are_read_only_as_far_as_the_protocol_allows():
    body = (
        URLSET
        + b"".join(
            b"<url><loc>https://big.example/a/%d</loc><lastmod>2024-01-%02dT00:00:00Z</lastmod></url>"
            % (i, 1 + i % 28)
            for i in range(1_000_000)
        )
        + b"</urlset>"
    )
    sitemap = parse_sitemap(body, url="https://big.example/sitemap.xml")
    assert len(sitemap.feed.entries) == MAX_ENTRIES
    assert f"only the first {MAX_URLS:,} URLs were read" in sitemap.feed.warning
    # newest first among what was read: all kept entries carry the latest day present
    assert {e.published.day for e in sitemap.feed.entries} == {28}
    assert all(int(e.url.rsplit("/", 1)[1]) < MAX_URLS for e in sitemap.feed.entries)


# --- walking an index through the guarded client on loopback ---------------------------


def _index(*children: str) -> bytes:
    return (
        b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + b"".join(b"<sitemap><loc>%s</loc></sitemap>" % c.encode() for c in children)
        + b"</sitemapindex>"
    )


def _get(client):
    """What the pipeline will pass: the guarded GET, an HTTP error as FeedError, then the parser."""

    def load(url: str):
        response = client.get(url, max_bytes=2_000_000)
        if response.status != 200:
            raise FeedError(f"HTTP {response.status}")
        return parse_sitemap(response.body, url=response.url, content_type=response.content_type)

    return load


def test_an_index_with_a_gzip_child_a_loop_and_a_huge_child_is_walked_within_bounds(
    http_server, loopback_client
):
    s = http_server
    s.route(
        "/sitemap_index.xml",
        _index(
            s.url("/news.xml.gz"),
            s.url("/sitemap_index.xml"),
            s.url("/huge.xml"),
            s.url("/bomb.xml.gz"),
            s.url("/more_index.xml"),
        ),
        content_type="application/xml",
    )
    s.route("/news.xml.gz", gzip.compress(NYT), content_type="application/x-gzip")
    s.route("/huge.xml", zeros(1 << 30), content_type="application/xml")  # 1 GiB, streamed
    s.route("/bomb.xml.gz", gzip_bomb(1 << 30), content_type="application/x-gzip")  # 1 MB on the wire
    s.route(
        "/more_index.xml",
        _index(s.url("/sitemap_index.xml"), s.url("/site.xml")),
        content_type="application/xml",
    )
    s.route("/site.xml", SITEMAPS_ORG, content_type="application/xml")
    walk = walk_sitemaps(s.url("/sitemap_index.xml"), _get(loopback_client), errors=ERRORS)
    urls = {e.url for e in walk.feed.entries}
    assert len(walk.feed.entries) == 343 + 84
    assert "http://www.nytimes.com/2011/04/19/us/19tornado.html" in urls
    dates = [e.published for e in walk.feed.entries]
    assert dates == sorted(dates, reverse=True)  # sitemaps.org (2016) before the NYT (2011)
    assert dates[0] == datetime(2016, 11, 21, tzinfo=UTC)
    assert [u.rsplit("/", 1)[1] for u in walk.loaded] == [
        "sitemap_index.xml",
        "news.xml.gz",
        "huge.xml",
        "bomb.xml.gz",
        "more_index.xml",
        "site.xml",
    ]
    problems = "\n".join(walk.problems)
    assert "a loop" in problems and "huge.xml" in problems and "bomb.xml.gz" in problems
    assert len([r for r in s.requests if r.path == "/sitemap_index.xml"]) == 1


def test_an_index_lists_all_its_children_though_a_walk_loads_only_a_few():
    """An index lists up to 1,000 children; the walk's own bound (25 loads) is separate."""
    children = [f"https://a.example/sitemap-{i}.xml" for i in range(40)]
    sitemap = parse_sitemap(_index(*children), url="https://a.example/index.xml")
    assert sitemap.sitemaps == tuple(children) and sitemap.feed.warning is None


def test_depth_and_count_bounds_hold(http_server, loopback_client):
    s = http_server
    for level in range(5):
        s.route(
            f"/level{level}.xml",
            _index(
                s.url(f"/level{level + 1}.xml"),
                *[s.url(f"/leaf{level}-{i}.xml") for i in range(10)],
            ),
            content_type="application/xml",
        )
    for level in range(5):
        for i in range(10):
            s.route(
                f"/leaf{level}-{i}.xml",
                URLSET + b"<url><loc>https://a.example/%d/%d</loc></url></urlset>" % (level, i),
                content_type="application/xml",
            )
    walk = walk_sitemaps(
        s.url("/level0.xml"), _get(loopback_client), errors=ERRORS, max_depth=2, max_sitemaps=8
    )
    assert len(walk.loaded) == 8
    assert not any("level3" in u for u in walk.loaded)
    assert any("more sitemaps were not loaded" in p for p in walk.problems)


def test_a_first_sitemap_that_fails_is_the_sources_error(http_server, loopback_client):
    http_server.route(
        "/sitemap.xml",
        b"<html><body>Not here</body></html>",
        status=404,
        content_type="text/html",
    )
    with pytest.raises(FeedError, match="HTTP 404"):
        walk_sitemaps(http_server.url("/sitemap.xml"), _get(loopback_client), errors=ERRORS)


def test_a_sitemap_entry_dedups_with_the_same_article_linked_elsewhere():
    sitemap = parse_sitemap(NYT, url="https://www.nytimes.com/sitemap_news.xml")
    entry = next(e for e in sitemap.feed.entries if e.url.endswith("19tornado.html"))
    assert canonical_url(entry.url) == canonical_url(
        "http://www.nytimes.com/2011/04/19/us/19tornado.html?utm_source=rss&utm_medium=feed#comments"
    )
