"""Wrapped links in real Google News, Google Alerts and FeedBurner feeds, unwrapped offline."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from watcher.dedup.identity import canonical_url
from watcher.dedup.unwrap import is_wrapper, unwrap
from watcher.parse.feed import parse_feed

DATA = Path(__file__).resolve().parents[1] / "data" / "sources" / "google"
NEWS = (DATA / "google_news_top_stories.xml").read_bytes()
ALERTS = (DATA / "google_alerts_atom.xml").read_bytes()
FEEDBURNER = (DATA / "feedburner_xhtml.xml").read_bytes()
NEW_STYLE = [
    line.strip() for line in (DATA / "google_news_new_format_links.txt").read_text().splitlines() if line
]


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


def test_every_old_style_google_news_link_decodes_to_its_publishers_article():
    feed = parse_feed(NEWS, url="https://news.google.com/rss?hl=en-US&gl=US&ceid=US:en")
    sources = [m.decode() for m in re.findall(rb'<source url="([^"]+)"', NEWS)]
    assert len(feed.entries) == len(sources) == 38
    for entry, source in zip(feed.entries, sources, strict=True):
        assert is_wrapper(entry.url)
        target = unwrap(entry.url)
        assert target is not None and not is_wrapper(target)
        host = _host(target)
        assert host == _host(source) or host.endswith("." + _host(source)), (
            target,
            source,
        )
    first = unwrap(feed.entries[0].url)
    assert first == (
        "https://www.washingtonpost.com/politics/impeachment-hearings-live-updates/2019/11/14/"
        "703b27da-0660-11ea-8292-c46ee8cb3dce_story.html"
    )


def test_new_style_google_news_links_are_wrappers_only_a_redirect_can_resolve():
    assert len(NEW_STYLE) == 20
    for link in NEW_STYLE:
        assert is_wrapper(link)
        assert unwrap(link) is None


def test_google_alerts_links_unwrap_to_the_publisher_and_dedup_with_its_own_feed_link():
    feed = parse_feed(
        ALERTS,
        url="https://www.google.com/alerts/feeds/04175468913983673025/4428013283581841004",
    )
    assert len(feed.entries) == 20
    targets = [unwrap(e.url) for e in feed.entries]
    assert all(t and "google." not in _host(t) for t in targets)
    assert targets[1] == "https://investorplace.com/2019/07/slack-stock-truly-compelling/"
    # the publisher's own feed links the same article with tracking parameters
    assert canonical_url(targets[1]) == canonical_url(
        "https://investorplace.com/2019/07/slack-stock-truly-compelling/?utm_source=feedburner&utm_medium=rss"
    )


def test_feedburner_links_carry_no_target_and_are_left_to_one_redirect():
    feed = parse_feed(FEEDBURNER, url="http://feeds.feedburner.com/RotoAuthorityFantasyBaseball")
    links = [e.url for e in feed.entries]
    assert links and all(link.startswith("http://feedproxy.google.com/~r/") for link in links)
    assert all(unwrap(link) is None for link in links)


@pytest.mark.parametrize(
    "link, target",
    [
        (
            "https://www.google.com/url?q=https://www.aa.com.tr/tr/gundem/x/123&sa=U&ved=2ahUKEwi",
            "https://www.aa.com.tr/tr/gundem/x/123",
        ),
        (
            "https://www.google.com.tr/url?sa=t&url=https%3A%2F%2Fwww.sana.sy%2F%3Fp%3D1%26lang%3Dar&usg=AOv",
            "https://www.sana.sy/?p=1&lang=ar",
        ),
        (
            (
                "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=6aa82acf&url=https%3a%2f%2fwww.theverge.com"
                "%2fai%2f123%2fopenai-model%3futm_source%3dbing&c=18124483902249883319&mkt=en-ww"
            ),
            "https://www.theverge.com/ai/123/openai-model?utm_source=bing",
        ),
        (
            "https://www.bing.com/ck/a?!&&p=abc&ptn=3&u=a1aHR0cHM6Ly93d3cuYWEuY29tLnRyL2VuL3dvcmxkL2E&ntb=1",
            "https://www.aa.com.tr/en/world/a",
        ),
        # a Google redirect to a Google News article: both layers
        (
            (
                "https://www.google.com/url?rct=j&sa=t&url=https://news.google.com/rss/articles/"
                "CBMiK2h0dHBzOi8vd3d3Lnl5LmNvbS90ci9oYWJlci8xMjMtYWJjZC1lZmdoaWrSAQA?oc=5&ct=ga"
            ),
            "https://www.yy.com/tr/haber/123-abcd-efghij",
        ),
        (
            "https://www.aa.com.tr/en/turkiye/a/123",
            "https://www.aa.com.tr/en/turkiye/a/123",
        ),  # no wrapper
    ],
)
def test_redirectors_are_unwrapped_without_contacting_them(link, target):
    assert unwrap(link) == target


@pytest.mark.parametrize(
    "link",
    [
        "https://www.google.com/url?q=javascript:alert(1)",
        "https://www.google.com/url?url=file:///etc/passwd",
        "https://www.google.com/url?sa=t",
        "http://www.bing.com/news/apiclick.aspx?ref=FexRss",
        "https://news.google.com/rss/articles/%%%%?oc=5",
        "https://news.google.com/rss/articles/CBMi____?oc=5",
        (
            "https://www.google.com/url?url=https://www.google.com/url?url=https://www.google.com/url?url="
            "https://www.google.com/url?url=https://a.example/"
        ),
    ],
)
def test_a_wrapper_without_a_usable_target_is_left_to_one_redirect(link):
    assert unwrap(link) is None


def test_what_is_not_a_wrapper_stays_as_it_is():
    for link in [
        "https://news.google.com/topstories?hl=en",
        "https://www.google.com/search?q=x",
        "mailto:a@b.c",
        "not a url",
        "https://example.com/url?url=https://elsewhere.example/",
    ]:
        assert not is_wrapper(link)
        assert unwrap(link) == link.strip()
