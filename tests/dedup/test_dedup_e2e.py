"""Deduplication end to end: real feeds and pages on a loopback server,
`watcher run --once`, and what the user then sees (stored rows, alerts sent
to a loopback hook, `watcher export --jsonl`)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from email.utils import format_datetime
from html import escape

import pytest
from newsroom import article_html, seed_texts
from support import REAL, ROOT, rows, watcher

from watcher.dedup.identity import canonical_url

FEEDS = REAL / "feeds" / "rss-parser"
EVERYTHING = """[[rules]]
id = "everything"
title = "Every item"
severity = "low"
condition = { regex = "\\\\w" }
"""


@pytest.fixture
def server(server):
    server.route("/hook", body=b"{}", content_type="application/json")
    return server


def config(tmp_path, server, feeds, *, fetch_article, rules=None):
    if rules is None:
        rules = tmp_path / "rules.toml"
        rules.write_text(EVERYTHING, encoding="utf-8")
    lines = [
        "[watcher]",
        f'database = "{tmp_path / "watcher.db"}"',
        f'rules = ["{rules}"]',
        "",
        "[network]",
        'allow_private = ["127.0.0.0/8"]',
        'timeout = "10s"',
        "",
        "[alerts]",
        'max_age = "36500d"  # the real fixture feeds are years old: no baseline here',
        "",
        "[[channels]]",
        'name = "hook"',
        f'url = "json://127.0.0.1:{server.port}/hook"',
        "",
    ]
    for name, path in feeds:
        lines += [
            "[[feeds]]",
            f'name = "{name}"',
            f'url = "{server.url(path)}"',
            f"fetch_article = {str(fetch_article).lower()}",
            "",
        ]
    path = tmp_path / "watcher.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run(path, *args):
    return watcher(path, *args, check=True)


def item_links(feed: bytes) -> list[str]:
    return re.findall(r"<item[ >].*?<link>([^<]+)</link>", feed.decode("utf-8"), re.S)


def test_byte_identical_feeds_under_several_urls_store_each_article_once_and_alert_once(tmp_path, server):
    rss1, xml2js = (FEEDS / "rss-1.rss").read_bytes(), (FEEDS / "xml2js-options.rss").read_bytes()
    assert rss1 == xml2js
    for path, body in (
        ("/science/rss-1.rss", rss1),
        ("/mirror/xml2js-options.rss", xml2js),
        ("/feeds/science.xml", rss1),
    ):
        server.route(path, body=body, content_type="application/rss+xml")
    path = config(
        tmp_path,
        server,
        [
            ("Science", "/science/rss-1.rss"),
            ("Science mirror", "/mirror/xml2js-options.rss"),
            ("Science again", "/feeds/science.xml"),
        ],
        fetch_article=False,
    )
    run(path, "run", "--once")
    run(path, "run", "--once")  # a second pass changes nothing

    links = item_links(rss1)
    assert len(links) == 69
    articles = rows(tmp_path, "SELECT * FROM articles")
    assert len(articles) == 69
    assert {a["canonical_url"] for a in articles} == {canonical_url(u) for u in links}
    assert all("?rss=1" not in a["canonical_url"] for a in articles)
    entries = rows(
        tmp_path, "SELECT article_id, count(DISTINCT feed_id) AS feeds FROM entries GROUP BY article_id"
    )
    assert len(entries) == 69 and {e["feeds"] for e in entries} == {3}
    # alerted at most once per story: one outbox row and one delivery per article
    alerts = rows(tmp_path, "SELECT story_id, count(*) AS n FROM alerts GROUP BY story_id")
    assert len(alerts) == 69 and {a["n"] for a in alerts} == {1}
    assert len(server.requests_for("/hook")) == 69


def atom_of(rss: bytes) -> bytes:
    """The same items as an Atom feed, as a site's other feed would give them:
    other ids (tag: URIs), links with tracking parameters and a fragment."""
    text = rss.decode("utf-8")
    entries = []
    for i, (title, link) in enumerate(
        re.findall(r"<item>\s*<title>(.*?)</title>.*?<link>(.*?)</link>", text, re.S)
    ):
        entries.append(f"""<entry><id>tag:reddit.com,2015:t3_{i}</id><title>{title}</title>
<link rel="alternate" href="{link}?utm_source=atom&amp;utm_medium=feed#comments"/>
<updated>2015-11-12T10:00:00Z</updated>
<content type="text">{escape(title)}</content></entry>""")
    return (
        """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>reddit (Atom)</title><id>tag:reddit.com,2015:front</id><updated>2015-11-12T10:00:00Z</updated>"""
        + "\n".join(entries)
        + "</feed>"
    ).encode("utf-8")


def test_the_same_items_through_rss_and_atom_under_other_ids_are_stored_once(tmp_path, server):
    rss = (FEEDS / "reddit.rss").read_bytes()
    server.route("/r/front.rss", body=rss, content_type="application/rss+xml")
    server.route("/r/front.atom", body=atom_of(rss), content_type="application/atom+xml")
    path = config(
        tmp_path,
        server,
        [("reddit RSS", "/r/front.rss"), ("reddit Atom", "/r/front.atom")],
        fetch_article=False,
    )
    run(path, "run", "--once")
    links = item_links(rss)
    assert len(set(links)) == 24
    articles = rows(tmp_path, "SELECT canonical_url FROM articles")
    assert len(articles) == len(set(links))
    guids = rows(tmp_path, "SELECT feed_id, guid FROM entries ORDER BY feed_id")
    assert len(guids) == 2 * len(set(links))
    assert any(g["guid"].startswith("tag:reddit.com") for g in guids)
    assert len(server.requests_for("/hook")) == len(set(links))


def test_a_wire_story_rerun_by_other_outlets_joins_one_story_and_alerts_once(tmp_path, server):
    (_, wire), (_, other) = seed_texts()[0], seed_texts()[3]
    paragraphs = [p for p in wire.split("\n") if p.strip() and p.strip() != "Skip to content"]
    outlets = {
        "Anadolu Agency": ("Türkiye to take active role in restructuring Syrian army", paragraphs),
        "Daily Sabah": (
            "Ankara to help rebuild Syria's military, defence sources say",
            paragraphs[:3] + paragraphs[4:],
        ),  # a paragraph cut
        "Enab Baladi": (
            "Turkey and Syria agree three-phase military road map",
            paragraphs
            + [
                "Enab Baladi contacted the Syrian Ministry of Defence, "
                "which did not respond by the time of publication."
            ],
        ),
    }
    feeds = []
    for n, (outlet, (title, paras)) in enumerate(outlets.items()):
        slug = outlet.split()[0].lower()
        server.route(
            f"/{slug}/a.html",
            body=article_html(title, "\n".join(paras), outlet),
            content_type="text/html; charset=utf-8",
        )
        items = [(title, f"/{slug}/a.html")]
        if outlet == "Daily Sabah":  # a different article on the same topic
            server.route(
                f"/{slug}/b.html",
                body=article_html("Turkish troops train Syrian units", other, outlet),
                content_type="text/html; charset=utf-8",
            )
            items.append(("Turkish troops train Syrian units", f"/{slug}/b.html"))
        body = "".join(
            f"<item><title>{escape(t)}</title><link>{server.url(p)}</link>"
            f"<guid>{outlet}-{p}</guid><pubDate>{format_datetime(datetime(2025, 2, 6, 8 + n, tzinfo=timezone.utc))}</pubDate></item>"
            for t, p in items
        )
        server.route(
            f"/{slug}/feed.xml",
            content_type="application/rss+xml",
            body=f'<?xml version="1.0"?><rss version="2.0"><channel><title>{outlet}</title>{body}</channel></rss>'.encode(),
        )
        feeds.append((outlet, f"/{slug}/feed.xml"))
    path = config(tmp_path, server, feeds, fetch_article=True, rules=ROOT / "rules")
    path.write_text(path.read_text().replace('timeout = "10s"', 'timeout = "10s"\nmax_connections = 1'))
    run(path, "run", "--once")

    articles = rows(
        tmp_path, "SELECT a.*, f.name AS feed FROM articles a JOIN feeds f ON f.id = a.feed_id ORDER BY a.id"
    )
    assert len(articles) == 4 and all(a["extraction"] == "full" for a in articles)
    wire_rows = [a for a in articles if a["url"].endswith("/a.html")]
    assert len({a["story_id"] for a in wire_rows}) == 1
    first = next(a for a in wire_rows if a["duplicate_of"] is None)
    copies = [a for a in wire_rows if a is not first]
    assert all(a["duplicate_of"] == first["id"] and a["join_reason"] == "similar" for a in copies)
    assert all(0.5 < a["join_similarity"] < 1 for a in copies)
    other_row = next(a for a in articles if a["url"].endswith("/b.html"))
    assert other_row["story_id"] != first["story_id"] and other_row["duplicate_of"] is None
    # one alert for the wire story (the other article alerts on its own if it matches)
    story_alerts = rows(tmp_path, "SELECT * FROM alerts WHERE story_id = ?", (first["story_id"],))
    assert len(story_alerts) == 1 and story_alerts[0]["article_id"] == first["id"]

    exported = {e["id"]: e for e in map(json.loads, run(path, "export", "--jsonl").stdout.splitlines())}
    for a in copies:
        assert exported[a["id"]]["story"] == first["story_id"]
        assert exported[a["id"]]["duplicate_of"] == first["id"]
        assert exported[a["id"]]["canonical_url"] == a["canonical_url"]
    assert exported[first["id"]]["duplicate_of"] is None
