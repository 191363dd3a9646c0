"""Per-source settings: kinds and their keys in the config (one line per
mistake naming file and key), headers (from the file or the environment, sent
to the source's own host only, never shown), user_agent, enabled = false."""

from __future__ import annotations

import logging

import pytest
from newsroom import Newsroom, write_config
from sourcesite import feed_table
from support import watcher

from watcher.config import load
from watcher.errors import ConfigError

SECRET = "session=COOKIE-SECRET-8841"
TOKEN = "Bearer TOKEN-SECRET-5521"


def _problems(tmp_path, table: str, environ=None) -> str:
    path = write_config(tmp_path, [], extra=table)
    with pytest.raises(ConfigError) as caught:
        load(path, environ=environ or {})
    return str(caught.value)


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        (
            feed_table(url="https://a.example/", kind="rss"),
            "feeds[0].kind",
            "must be one of feed, telegram, sitemap, page",
        ),
        (feed_table(url="https://a.example/", selector="a"), "feeds[0].selector", 'kind = "page"'),
        (feed_table(kind="telegram"), "feeds[0]", 'channel = "name"'),
        (feed_table(kind="telegram", channel="no"), "feeds[0].channel", "not a public Telegram channel"),
        (
            feed_table(kind="telegram", channel="durov", fetch_article=True),
            "feeds[0].fetch_article",
            "follow_links",
        ),
        (feed_table(kind="page", url="https://a.example/"), "feeds[0]", "selector"),
        (
            feed_table(url="https://a.example/", headers={"Bad Name": "x"}),
            "feeds[0].headers.Bad Name",
            "header name",
        ),
        (
            feed_table(url="https://a.example/", headers={"Host": "x"}),
            "feeds[0].headers.Host",
            "set by the watcher",
        ),
        (
            feed_table(url="https://a.example/", headers_env={"Authorization": "NO_SUCH_VAR"}),
            "feeds[0].headers_env.Authorization",
            "NO_SUCH_VAR is not set",
        ),
        (feed_table(url="https://a.example/", tags=["a/b"]), "feeds[0].tags", "without commas or slashes"),
        (feed_table(url="https://a.example/", enabled="no"), "feeds[0].enabled", "true/false"),
        (
            feed_table(kind="sitemap", url="https://a.example/s.xml", max_sitemaps=0),
            "feeds[0].max_sitemaps",
            "above zero",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_the_file_and_key(tmp_path, table, key, words):
    message = _problems(tmp_path, table)
    line = next(line for line in message.splitlines() if key in line)
    assert words in line
    assert str(tmp_path / "watcher.toml") in message


def test_a_header_value_is_never_shown_in_a_problem(tmp_path):
    table = f'[[feeds]]\nurl = "https://a.example/"\nheaders = {{ Cookie = "a\\nb{SECRET}" }}\n'  # \n in TOML: a line break
    message = _problems(tmp_path, table)
    assert "feeds[0].headers.Cookie" in message and SECRET not in message


def test_each_kind_reads_with_its_defaults(tmp_path):
    extra = "\n".join(
        [
            feed_table(kind="telegram", channel="https://t.me/durov"),
            feed_table(kind="sitemap", url="https://a.example/news-sitemap.xml", tags=["turkey"]),
            feed_table(kind="page", url="https://a.example/statements", link_pattern="/statements/[0-9]+"),
            feed_table(url="https://a.example/feed", enabled=False, user_agent="Mozilla/5.0 (watcher)"),
        ]
    )
    config = load(write_config(tmp_path, [], extra=extra), environ={})
    telegram, sitemap, page, paused = config.feeds
    assert (telegram.url, telegram.channel, telegram.name, telegram.fetch_article) == (
        "https://t.me/s/durov",
        "durov",
        "@durov",
        False,
    )
    assert (sitemap.kind, sitemap.tags, sitemap.max_sitemaps, sitemap.max_entries) == (
        "sitemap",
        ("turkey",),
        25,
        100,
    )
    assert (page.kind, page.link_pattern, page.fetch_article) == ("page", "/statements/[0-9]+", True)
    assert (paused.enabled, paused.user_agent) == (False, "Mozilla/5.0 (watcher)")


def test_headers_go_to_the_source_s_own_host_only_and_never_into_logs(tmp_path, server, make_server, caplog):
    elsewhere = make_server("127.0.0.2")
    room = Newsroom(server)
    room.add_seed_articles()
    elsewhere.route("/away.html", b"<html><body><p>Elsewhere</p></body></html>", content_type="text/html")
    server.route("/moved.html", redirect_to=elsewhere.url("/away.html"))
    body = room.rss().replace(
        b"</channel>",
        f"<item><title>Moved</title><link>{server.url('/moved.html')}</link><guid>m</guid></item>"
        f"<item><title>Away</title><link>{elsewhere.url('/away.html')}</link><guid>a</guid></item></channel>".encode(),
    )
    server.route("/feed.xml", body, content_type="application/rss+xml")
    table = feed_table(
        name="Paywalled",
        url=server.url("/feed.xml"),
        headers={"Cookie": SECRET},
        headers_env={"Authorization": "FEED_TOKEN"},
        user_agent="Mozilla/5.0 (compatible; watcher-test)",
    )
    path = write_config(tmp_path, [], extra=table)
    import os

    os.environ["FEED_TOKEN"] = TOKEN
    try:
        with caplog.at_level(logging.DEBUG):
            result = watcher(path, "run", "--once", "--log-level", "DEBUG")
    finally:
        del os.environ["FEED_TOKEN"]
    assert result.exit_code == 0, result.output
    own = [
        r for r in server.requests if r.path in ("/feed.xml", *(s.path for s in room.stories), "/moved.html")
    ]
    assert own and all(
        r.headers.get("cookie") == SECRET and r.headers.get("authorization") == TOKEN for r in own
    )
    assert all(r.headers["user-agent"] == "Mozilla/5.0 (compatible; watcher-test)" for r in own)
    away = elsewhere.requests_for("/away.html")
    assert len(away) == 2  # the redirect's target, and the other host's link
    assert all("cookie" not in r.headers and "authorization" not in r.headers for r in away)
    shown = result.output + result.stderr + caplog.text
    assert SECRET not in shown and TOKEN not in shown
