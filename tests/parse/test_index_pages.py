"""Index pages and feed discovery on real pages; a 10 MB page of links stays bounded."""

from __future__ import annotations

import pytest
from support import REAL

from watcher.match.patterns import pattern_problem
from watcher.parse.discovery import common_paths, discover, robots_sitemaps, robots_url
from watcher.parse.feed import MAX_ENTRIES, parse_feed
from watcher.parse.links import (
    MAX_LINKS,
    LinkRule,
    compile_pattern,
    compile_selector,
    index_links,
    same_site,
)

PAGES = REAL / "html" / "trafilatura"
BBC_URL = "https://www.bbc.com/news/world-us-canada-52241221"


@pytest.fixture(scope="module")
def bbc() -> bytes:
    return (PAGES / "bbc.com.52241221.html").read_bytes()


def test_a_link_pattern_picks_the_article_links_of_a_real_page(bbc):
    rule = LinkRule(
        pattern=compile_pattern(r"^https://www\.bbc\.com/news/[a-z_-]+-\d+$", problem=pattern_problem)
    )
    feed = index_links(bbc, url=BBC_URL, rule=rule)
    urls = [e.url for e in feed.entries]
    assert len(urls) == len(set(urls)) >= 10
    assert BBC_URL not in urls  # the page itself is no entry
    assert urls[0] == "https://www.bbc.com/news/world-us-canada-52216777"
    assert feed.entries[0].title == "One virus, two Americas"
    assert feed.entries[0].guid == feed.entries[0].url and feed.entries[0].published is None
    assert feed.language == "en" and feed.warning is None


def test_a_css_selector_picks_the_links_inside_what_it_matches(bbc):
    feed = index_links(bbc, url=BBC_URL, rule=LinkRule(selector=compile_selector("nav a")))
    urls = [e.url for e in feed.entries]
    assert "https://www.bbc.com/news/world/africa" in urls
    assert all(u.startswith("https://www.bbc.com/") for u in urls)


def test_same_site_is_the_default_and_can_be_turned_off(bbc):
    own = index_links(bbc, url=BBC_URL, rule=LinkRule())
    every = index_links(bbc, url=BBC_URL, rule=LinkRule(same_site=False))
    assert all(same_site(e.url, BBC_URL) for e in own.entries)
    assert len(every.entries) > len(own.entries)


def test_a_rule_that_matches_nothing_says_so(bbc):
    feed = index_links(
        bbc,
        url=BBC_URL,
        rule=LinkRule(pattern=compile_pattern(r"/bakanlik/aciklama/", problem=pattern_problem)),
    )
    assert feed.entries == () and "no links on the page matched" in feed.warning


def test_relative_links_base_and_fragments():
    page = (
        b'<html lang="tr"><head><base href="https://www.mfa.gov.tr/"><title>Aciklamalar</title></head><body>'
        b'<a href="no_-123_-aciklama.tr.mfa">Bir</a><a href="/no_-123_-aciklama.tr.mfa#top">Bir again</a>'
        b'<a href="javascript:void(0)">x</a><a href="mailto:a@b.c">m</a><a href="#top">t</a>'
        b'<a href="https://en.mfa.gov.tr/no_-5.en.mfa">sub</a><a href="https://mfa.gov.tr.evil.example/x">e</a>'
        b"</body></html>"
    )
    feed = index_links(page, url="https://www.mfa.gov.tr/aciklamalar.tr.mfa", rule=LinkRule())
    assert [e.url for e in feed.entries] == [
        "https://www.mfa.gov.tr/no_-123_-aciklama.tr.mfa",
        "https://en.mfa.gov.tr/no_-5.en.mfa",
    ]
    assert feed.title == "Aciklamalar" and feed.language == "tr"


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("(a+)+$", "nested quantifier"),
        ("(x", "not a regular expression"),
        (r"(\w+)\1", "backreferences"),
    ],
)
def test_a_link_pattern_that_could_take_exponential_time_is_refused(pattern, message):
    with pytest.raises(ValueError, match=message):
        compile_pattern(pattern, problem=pattern_problem)


def test_a_bad_selector_is_refused_with_its_text():
    with pytest.raises(ValueError, match=r"not a CSS selector.*div\[\["):
        compile_selector("div[[")


def test_a_10_mb_page_of_links_is_bounded():
    links = b"".join(b'<a href="/a/%d">link %d</a>\n' % (i, i) for i in range(400_000))
    page = b"<html><body>" + links + b"</body></html>"
    assert len(page) > 10_000_000
    everything = index_links(page, url="https://big.example/", rule=LinkRule())
    assert len(everything.entries) == MAX_ENTRIES
    rare = index_links(
        page,
        url="https://big.example/",
        rule=LinkRule(pattern=compile_pattern(r"/a/39999\d$", problem=pattern_problem)),
    )
    assert len(rare.entries) == 0  # beyond the anchors looked at
    assert f"only the first {MAX_LINKS:,} links" in rare.warning


# --- discovery ------------------------------------------------------------------------


def test_a_real_page_names_its_atom_and_rdf_feeds():
    found = discover(
        (PAGES / "heise.de.lithium.html").read_bytes(),
        url="https://www.heise.de/news/x.html",
    )
    assert [(f.kind, f.url) for f in found.feeds][:2] == [
        ("atom", "https://www.heise.de/rss/heise-atom.xml"),
        ("rss", "https://www.heise.de/rss/heise.rdf"),
    ]
    assert found.feeds[0].title == "Aktuelle News von heise online"


def test_discovery_on_loopback_finds_the_feed_a_page_names_and_it_parses(http_server, loopback_client):
    page = (PAGES / "theverge.com.ios13.html").read_bytes()  # <link ... href="/rss/index.xml">
    feed = (REAL / "feeds" / "rss-parser" / "guardian.rss").read_bytes()
    http_server.route("/", page, content_type="text/html; charset=utf-8")
    http_server.route("/rss/index.xml", feed, content_type="application/rss+xml")
    response = loopback_client.get(http_server.url("/"), max_bytes=5_000_000)
    found = discover(response.body, url=response.url, content_type=response.content_type)
    assert [f.url for f in found.feeds] == [http_server.url("/rss/index.xml")]
    assert found.feeds[0].title == "The Verge"
    fetched = loopback_client.get(found.feeds[0].url, max_bytes=5_000_000)
    assert parse_feed(fetched.body, url=fetched.url, content_type=fetched.content_type).entries


def test_a_page_without_feed_links_leaves_common_paths_and_feed_looking_links():
    page = (
        b'<html><head><link rel="alternate" hreflang="de" href="/de/"><link rel="alternate" type="application/json"'
        b' href="/wp-json/wp/v2/posts/1"><link rel="stylesheet alternate" type="application/rss+xml" href="/x.css">'
        b'</head><body><a href="/haberler/rss.xml">RSS</a><a href="feed://www.sana.sy/feed/">Feed</a>'
        b'<a href="/about">About</a></body></html>'
    )
    found = discover(page, url="https://www.sana.sy/en/")
    assert found.feeds == ()
    assert [c.url for c in found.candidates] == [
        "https://www.sana.sy/haberler/rss.xml",
        "http://www.sana.sy/feed/",
    ]
    assert common_paths("https://www.sana.sy/en/?p=1")[:3] == (
        "https://www.sana.sy/feed",
        "https://www.sana.sy/rss",
        "https://www.sana.sy/feed.xml",
    )


def test_robots_txt_sitemap_lines():
    robots = (
        b"User-agent: *\nDisallow: /search\n\nSitemap: https://www.aa.com.tr/sitemap.xml\n"
        b"sitemap:/tr/sitemap-news.xml # news\nSITEMAP: https://www.aa.com.tr/sitemap.xml\nSitemap: ftp://x/\n"
    )
    assert robots_url("https://www.aa.com.tr/tr/gundem") == "https://www.aa.com.tr/robots.txt"
    assert robots_sitemaps(robots, url="https://www.aa.com.tr/robots.txt") == (
        "https://www.aa.com.tr/sitemap.xml",
        "https://www.aa.com.tr/tr/sitemap-news.xml",
    )


def test_an_unreadable_page_names_no_feeds():
    assert discover(b"", url="https://a.example/").feeds == ()
    assert discover(b"\x00\x01binary", url="https://a.example/").feeds == ()
