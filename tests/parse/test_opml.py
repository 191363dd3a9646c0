"""OPML import and export on real subscription lists; hostile nesting."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from watcher.parse.opml import (
    MAX_DEPTH,
    MAX_FEEDS,
    OpmlError,
    OpmlFeed,
    read_opml,
    write_opml,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "sources" / "opml"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def load(name: str):
    return read_opml((DATA / name).read_bytes())


def test_a_real_export_with_folders_and_categories_gives_feeds_with_tags():
    doc = load("donthypeme_feeds.opml")
    assert doc.title == "Don't Hype Me RSS Feeds" and doc.warning is None
    by_url = {f.url: f for f in doc.feeds}
    news = by_url["https://news.google.com/rss/search?q=anthropic"]
    assert news.title == '"anthropic" - Google News'
    assert news.tags == ("AI", "type", "news")  # folder, then category="/type/news"
    assert len(doc.feeds) == len(by_url)  # each URL once
    assert any("News & Politics" in f.tags for f in doc.feeds)  # &amp; in a folder name


def test_a_real_opml_1_export_with_persian_titles():
    doc = load("plenary_iran.opml")
    assert [f.tags for f in doc.feeds] == [("Iran",)] * 7
    assert (
        doc.feeds[1].title == "تابناک | TABNAK" and doc.feeds[1].url == "https://www.tabnak.ir/fa/rss/allnews"
    )


def test_bare_ampersands_of_a_real_export_are_read_and_reported():
    doc = load("plenary_news.opml")
    assert len(doc.feeds) == 11
    assert any(f.title == "Yahoo News - Latest News & Headlines" for f in doc.feeds)
    assert "2 bare '&' characters" in doc.warning


@pytest.mark.parametrize(
    "name, tags",
    [
        ("listparser_hier-2-nested.opml", ("grouping1", "grouping2")),
        ("listparser_cats-3-multiple.opml", ("root1", "node1", "root2", "node2")),
        ("listparser_tags-3-cats_mixed.opml", ("news", "sports")),
    ],
)
def test_listparser_category_cases(name, tags):
    doc = load(name)
    assert [f.tags for f in doc.feeds] == [tags]


@pytest.mark.parametrize(
    "name",
    [
        "donthypeme_feeds.opml",
        "plenary_iran.opml",
        "plenary_news.opml",
        "listparser_feeds.opml",
        "listparser_cats-3-multiple.opml",
    ],
)
def test_export_then_import_gives_the_same_feeds(name):
    doc = load(name)
    again = read_opml(write_opml(doc.feeds, title="watcher feeds", now=NOW))
    assert again.feeds == doc.feeds
    assert again.title == "watcher feeds" and again.warning is None


def test_export_is_opml_2_with_folders_by_first_tag():
    out = write_opml(
        [
            OpmlFeed(
                "https://a.example/feed",
                'A <&> "quoted"',
                "https://a.example/",
                ("Turkey", "gov"),
            ),
            OpmlFeed("https://b.example/rss", "B"),
        ],
        title="t",
        now=NOW,
    ).decode()
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert "<dateCreated>Sun, 01 Mar 2026 12:00:00 GMT</dateCreated>" in out
    assert '<outline text="Turkey" title="Turkey">' in out and 'category="gov"' in out
    titles = {f.url: f.title for f in read_opml(out.encode()).feeds}
    assert titles["https://a.example/feed"] == 'A <&> "quoted"'


def test_tags_with_separators_survive_the_round_trip_as_close_as_opml_allows():
    feeds = [OpmlFeed("https://a.example/feed", "A", None, ("News/World", "a,b", "x/y"))]
    again = read_opml(write_opml(feeds, title="t", now=NOW)).feeds
    assert again[0].tags == ("News/World", "a b", "x y")


def test_only_http_feed_urls_are_kept_and_the_rest_counted():
    doc = read_opml(
        b'<opml version="2.0"><body><outline text="x" xmlUrl="javascript:alert(1)"/>'
        b'<outline text="y" xmlUrl="file:///etc/passwd"/><outline text="ok" xmlurl="https://ok.example/f"/>'
        b"</body></opml>"
    )
    assert [f.url for f in doc.feeds] == ["https://ok.example/f"]
    assert "2 outlines whose xmlUrl is not an http(s) URL were skipped" in doc.warning


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "empty file"),
        (b"<rss version='2.0'/>", "root element is <rss>"),
        (b"<opml><body><outline", "not well-formed"),
        (b"not xml at all", "not well-formed"),
    ],
)
def test_what_is_not_opml_is_an_error_that_says_so(body, message):
    with pytest.raises(OpmlError, match=message):
        read_opml(body)


def test_outlines_ten_thousand_deep_are_bounded():
    body = (
        b'<opml version="2.0"><body>'
        + b"".join(b'<outline text="f%d">' % i for i in range(10_000))
        + b'<outline text="deep" xmlUrl="https://deep.example/feed"/>'
        + b"</outline>" * 10_000
        + b"</body></opml>"
    )
    doc = read_opml(body)
    assert [f.url for f in doc.feeds] == ["https://deep.example/feed"]
    assert doc.feeds[0].tags == tuple(f"f{i}" for i in range(MAX_DEPTH))
    assert f"nested more than {MAX_DEPTH} deep" in doc.warning


def test_an_entity_bomb_is_not_expanded():
    body = (
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "'
        + b"x" * 100
        + b'">'
        + b"".join(
            b'<!ENTITY %c "&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;">' % ((c,) + (c - 1,) * 10)
            for c in range(ord("b"), ord("k"))
        )
        + b']><opml version="2.0"><body><outline text="&j;" xmlUrl="https://a.example/f"/></body></opml>'
    )
    doc = read_opml(body)
    assert len(doc.feeds[0].title) < 200


def test_a_list_of_many_feeds_is_cut_with_a_note():
    body = (
        b'<opml version="2.0"><body>'
        + b"".join(b'<outline text="f" xmlUrl="https://a.example/%d"/>' % i for i in range(MAX_FEEDS + 100))
        + b"</body></opml>"
    )
    doc = read_opml(body)
    assert len(doc.feeds) == MAX_FEEDS and f"only the first {MAX_FEEDS:,} feeds" in doc.warning
