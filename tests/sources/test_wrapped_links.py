"""Wrapped links: a real Google Alerts feed and a real Google News feed yield
the publishers' URLs, which dedup with the same articles from the publishers'
own feeds; a wrapper without its target is followed once and kept as the
page it ends on."""

from __future__ import annotations

import base64
import dataclasses
import html
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from httpserver import TEST_USER_AGENT
from newsroom import write_config
from sourcesite import DATA, feed_table
from support import rows, watcher

from watcher import app
from watcher import config as config_mod
from watcher.fetch.client import Client, NetworkPolicy
from watcher.match.rules import load_rules
from watcher.pipeline import Pipeline
from watcher.sources import schedule

ALERTS = (DATA / "google" / "google_alerts_atom.xml").read_bytes()
NEWS = (DATA / "google" / "google_news_top_stories.xml").read_bytes()


def publisher_feed(urls: list[str]) -> bytes:
    """The publishers' own RSS listing the same articles."""
    items = "".join(
        f"<item><title>Article {i}</title><link>{html.escape(u)}</link><guid>{html.escape(u)}</guid></item>"
        for i, u in enumerate(urls)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Publishers</title>{items}</channel></rss>'.encode()


def _run_both(tmp_path, server, wrapped: bytes, targets: list[str], content_type: str) -> None:
    server.route("/wrapped.xml", wrapped, content_type=content_type)
    server.route("/publishers.xml", publisher_feed(targets), content_type="application/rss+xml")
    extra = (
        feed_table(name="Publishers", url=server.url("/publishers.xml"), fetch_article=False)
        + "\n"
        + feed_table(name="Google", url=server.url("/wrapped.xml"), fetch_article=False)
    )
    config = write_config(tmp_path, [], extra=extra)
    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output


def _one_article_per_target(tmp_path, targets: list[str]) -> None:
    articles = rows(tmp_path, "SELECT url FROM articles")
    assert sorted(a["url"] for a in articles) == sorted(set(targets))  # one article each, no wrapper URL
    google = rows(
        tmp_path,
        "SELECT e.url, e.article_id FROM entries e JOIN feeds f ON f.id = e.feed_id WHERE f.name = 'Google'",
    )
    assert len(google) >= len(set(targets)) and all(e["article_id"] for e in google)
    assert {e["url"] for e in google} == set(targets)


def test_a_real_google_alerts_feed_yields_the_publishers_urls_which_dedup_with_their_own_feeds(
    tmp_path, server
):
    targets = [
        parse_qs(urlsplit(html.unescape(h)).query)["url"][0]
        for h in re.findall(r'<link href="(https://www\.google\.com/url\?[^"]+)"', ALERTS.decode())
    ]
    assert len(targets) >= 3 and "https://investorplace.com/2019/07/slack-stock-truly-compelling/" in targets
    _run_both(tmp_path, server, ALERTS, targets, "application/atom+xml")
    _one_article_per_target(tmp_path, targets)


def _google_news_target(link: str) -> str:
    """The first URL in the base64 of an old-style Google News id (read here by a regex, not the watcher's decoder)."""
    token = urlsplit(link).path.rsplit("/", 1)[-1]
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return re.search(rb"https?://[\x21-\x7e]+?(?=[^\x21-\x7e]|\xd2|$)", raw).group(0).decode()


def test_a_real_google_news_feed_yields_the_publishers_urls_which_dedup_with_their_own_feeds(
    tmp_path, server
):
    links = re.findall(r"<link>(https://news\.google\.com/[^<]*/articles/[^<]+)</link>", NEWS.decode())
    targets = [_google_news_target(html.unescape(link)) for link in links]
    assert len(targets) == 38
    assert targets[0] == (
        "https://www.washingtonpost.com/politics/impeachment-hearings-live-updates/2019/11/14/"
        "703b27da-0660-11ea-8292-c46ee8cb3dce_story.html"
    )
    _run_both(tmp_path, server, NEWS, targets, "application/rss+xml")
    _one_article_per_target(tmp_path, targets)


def test_a_wrapper_without_its_target_is_followed_once_and_its_page_kept(tmp_path, server):
    """FeedBurner links carry no target: the link is followed through the guarded
    client (here feedproxy.google.com resolves to the loopback server) and the
    page it ends on is the article, fetched once."""
    article = server.url("/2014/06/closer-report.html")
    server.route(
        "/2014/06/closer-report.html",
        b"<html><body><article><h1>Closer report</h1>"
        + b"<p>The team's closer situation changed again this week after the injury.</p>" * 6
        + b"</article></body></html>",
        content_type="text/html; charset=utf-8",
    )
    wrapped = f"http://feedproxy.google.com:{server.port}/~r/RotoAuthority/~3/abc123/closer-report.html"
    server.route("/~r/RotoAuthority/~3/abc123/closer-report.html", redirect_to=article, status=301)
    server.route(
        "/feed.xml",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Roto</title><item><title>Closer report</title>'
        f'<link>{wrapped}</link><guid isPermaLink="false">tag:roto,1</guid>'
        f"<pubDate>{datetime.now(UTC):%a, %d %b %Y %H:%M:%S +0000}</pubDate></item></channel></rss>".encode(),
        content_type="application/rss+xml",
    )
    path = write_config(tmp_path, [("Roto", server.url("/feed.xml"))])
    config = config_mod.load(path)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    parts = app.build_parts(config, clock, load_rules(config.rules))
    client = Client(
        NetworkPolicy(timeout=5, user_agent=TEST_USER_AGENT, allow_private=("127.0.0.0/8",)),
        resolver=lambda host, port: ["127.0.0.1"],
    )
    parts = dataclasses.replace(parts, client=client)
    store = app.open_store(config)
    try:
        schedule.sync(store, config.feeds, clock())
        result = Pipeline(parts, store).poll(config.feeds[0])
    finally:
        store.close()
        client.close()
        parts.extractor.close()
    assert result.outcome.error is None, result.outcome
    stored = rows(tmp_path, "SELECT url, extraction, text FROM articles")
    assert stored == [{"url": article, "extraction": "full", "text": stored[0]["text"]}]
    assert "closer situation" in stored[0]["text"]
    assert len(server.requests_for("/2014/06/closer-report.html")) == 1  # followed once, not fetched again
    assert rows(tmp_path, "SELECT url FROM entries")[0]["url"] == article
