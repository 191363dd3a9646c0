"""The alert message: what it says, and what feed text cannot do to it."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import markdown
import pytest
from alerts_support import NOW, add_article, open_store, write_config

from watcher.notify.message import (
    ZWSP,
    AlertContent,
    HitLine,
    Limits,
    RuleLine,
    channel_test_message,
    clean_line,
    load_content,
    neutralise,
    render,
    render_digest,
    safe_link,
)

HOSTILE = "Türkiye & Syria <script>alert(1)</script> **pact** [x](javascript:alert(1)) @everyone"


def content(**kw) -> AlertContent:
    base = dict(
        headline="Türkiye and Syria sign defence cooperation memorandum",
        source="Reuters World",
        published="2026-11-21T05:30:00+00:00",
        link="https://news.example/a?x=1",
        rules=(
            RuleLine(
                "tr-sy",
                "Turkey–Syria defence",
                "high",
                (HitLine("Türkiye", "turkey", "title", "Türkiye and Syria sign a defence memorandum"),),
            ),
        ),
        also=("Anadolu Agency", "Hürriyet"),
    )
    base.update(kw)
    return AlertContent(**base)


def test_text_message_says_what_where_and_why():
    msg = render(content(), "text")
    assert msg.title == "[Turkey–Syria defence] Türkiye and Syria sign defence cooperation memorandum"
    assert msg.body.splitlines() == [
        "Source: Reuters World",
        "Published: 2026-11-21 05:30 UTC",
        "Rule: Turkey–Syria defence (high)",
        "  • in the headline: “Türkiye” [turkey]",  # named, not the headline quoted again
        "Link: https://news.example/a?x=1",
        "Also reported by: Anadolu Agency, Hürriyet",
    ]


def test_hits_in_the_headline_are_named_once_and_text_hits_keep_their_context():
    weak = RuleLine(
        "places",
        "Turkey and Syria named",
        "critical",
        (HitLine("Türkiye", "turkey", "title", "x"),),
        evidence=0.5,
    )
    strong = RuleLine(
        "minister",
        "Syrian defence minister",
        "high",
        (
            HitLine("Murhaf Abu Qasra", "abu-qasra", "text", "… met Murhaf Abu Qasra in Ankara …"),
            HitLine("Abu Qasra", "abu-qasra", "title", "Abu Qasra in Ankara"),
        ),
        evidence=3.0,
        similar_to="close in meaning to about 1: “Turkey trains Syria's army” (0.91)",
    )
    msg = render(content(rules=(strong, weak)), "text")
    lines = msg.body.splitlines()
    at = lines.index("Rule: Syrian defence minister (high)")
    assert lines[at + 1 : at + 4] == [
        "  • close in meaning to about 1: “Turkey trains Syria's army” (0.91)",
        "  • in the headline: “Abu Qasra” [abu-qasra]",
        "  • “Murhaf Abu Qasra” [abu-qasra] in text: … met Murhaf Abu Qasra in Ankara …",
    ]
    assert sum(content().headline in line for line in lines) == 0


@pytest.mark.parametrize(
    "mention",
    [
        "@everyone",
        "@here",
        "<@&123456789>",
        "<@123456789>",
        "<@!123456789>",
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "＠everyone",
    ],
)
def test_mass_mentions_are_neutralised_everywhere(mention):
    msg = render(
        content(
            headline=f"Breaking {mention} now",
            source=f"Feed {mention}",
            rules=(
                RuleLine(
                    "r", f"Rule {mention}", "high", (HitLine(mention, None, "text", f"... {mention} ..."),)
                ),
            ),
        ),
        "markdown",
    )
    for text in (msg.title, msg.body):
        assert mention not in text
        assert ZWSP in text
    assert mention.lstrip("<＠@!&").rstrip(">") in msg.title  # still readable


def test_neutralise_keeps_the_text_readable():
    assert neutralise("@everyone look") == "@\u200beveryone look"
    assert neutralise("<!channel> and <@&42>") == "<\u200b!channel> and <\u200b@\u200b&42>"
    assert neutralise("plain text, 5 @ 6") == "plain text, 5 @ 6"


def test_titles_lose_control_characters_and_newlines():
    title = render(content(headline="Pact\r\nBcc: victim@example.com\x1b[31m red\x00\u202e"), "text").title
    assert "\n" not in title and "\r" not in title and "\x1b" not in title and "\x00" not in title
    assert "\u202e" not in title
    assert title.endswith("Pact Bcc: victim@\u200bexample.com[31m red")


def test_html_escapes_feed_text_and_rejects_javascript_links():
    msg = render(
        content(
            headline=HOSTILE,
            source="<b>Feed</b>",
            link="javascript:alert(1)",
            rules=(RuleLine("r", "Rule", "high", (HitLine("x", None, "text", HOSTILE),)),),
        ),
        "html",
    )
    assert "<script>" not in msg.body and "&lt;script&gt;" in msg.body
    assert "<b>Feed</b>" not in msg.body and "&lt;b&gt;Feed&lt;/b&gt;" in msg.body
    assert "href" not in msg.body  # a javascript: link is shown as text, never linked
    assert "Link:</b> javascript:alert(1)" in msg.body


def test_markdown_escaping_survives_a_markdown_renderer():
    """What apprise does with markdown for HTML services (Python-Markdown)."""
    msg = render(
        content(
            headline=HOSTILE, rules=(RuleLine("r", "Rule", "high", (HitLine("x", None, "text", HOSTILE),)),)
        ),
        "markdown",
    )
    rendered = markdown.markdown(msg.body)
    assert "<script>" not in rendered
    assert "<strong>pact</strong>" not in rendered  # feed text cannot format
    assert 'href="javascript' not in rendered  # nor make links
    assert "**pact**" in html.unescape(rendered)
    assert '<a href="https://news.example/a?x=1">' in rendered  # our link still works


def test_links_are_made_safe():
    assert (
        safe_link('https://user:pw@news.example/a b<c>"d"?q=@everyone')
        == "https://news.example/a%20b%3Cc%3E%22d%22?q=%40everyone"
    )
    assert safe_link("javascript:alert(1)") is None
    assert safe_link("ftp://x.example/f") is None
    assert safe_link(None) is None


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
@pytest.mark.parametrize("cap", [2000, 1024, 500])
def test_long_messages_are_capped_keeping_the_link(fmt, cap):
    hits = tuple(HitLine(f"term{i}", None, "text", "x" * 190) for i in range(5))
    rules = tuple(RuleLine(f"r{i}", f"Rule {i}", "high", hits) for i in range(10))
    msg = render(content(rules=rules, also=tuple(f"Feed {i}" for i in range(40))), fmt, Limits(250, cap))
    assert len(msg.body) <= cap
    assert "news.example/a" in msg.body
    assert "more lines not shown" in msg.body
    assert "and 32 more" in msg.body


def test_no_title_field_puts_the_escaped_title_in_the_body():
    msg = render(content(headline="<b>x</b> & y"), "html", Limits(title=0, body=4096))
    assert msg.title == ""
    assert msg.body.startswith("<b>[Turkey–Syria defence] &lt;b&gt;x&lt;/b&gt; &amp; y</b><br>")


def test_tiny_limits_never_cut_an_entity_in_half():
    msg = render(content(headline="&" * 200, source="&" * 80), "html", Limits(title=0, body=200))
    assert len(msg.body) <= 200
    assert not msg.body.rstrip("…").endswith(("&", "&a", "&am", "&amp"))


def test_digest_lists_items_and_says_what_did_not_fit():
    items = [content(headline=f"Story {i}", link=f"https://news.example/{i}") for i in range(30)]
    msg, count = render_digest(items, "text", Limits(250, 1000), channel="daily")
    assert 0 < count < 30
    assert msg.title == f"[watcher] {count} new stories for daily"
    assert all(f"Story {i} " in msg.body for i in range(count))
    assert f"Story {count} " not in msg.body
    assert f"(+{30 - count} more in the next message)" in msg.body
    assert len(msg.body) <= 1000


def test_test_message_names_the_channel():
    msg = channel_test_message("ops @everyone", "text", NOW)
    assert "ops @\u200beveryone" in msg.body and "2025-11-21 06:00 UTC" in msg.body


def test_clean_line_caps_length():
    assert clean_line("a" * 500, 10) == "a" * 9 + "…"


def test_content_is_loaded_from_the_store(tmp_path):
    cfg = write_config(tmp_path, "")
    store = open_store(cfg)
    story, first = add_article(
        store,
        title="Ankara and Damascus sign pact",
        feed="Reuters World",
        rules=(("low-rule", "Low rule", "low"), ("tr-sy", "Turkey–Syria", "critical")),
    )
    add_article(store, title="copy", feed="Anadolu Agency", story_id=story)
    add_article(store, title="copy 2", feed="Reuters World", story_id=story)  # same feed: not "also"
    add_article(store, title="copy 3", feed="Hürriyet", story_id=story)
    add_article(store, title="unrelated", feed="Other")
    got = load_content(store, article_id=first, story_id=story)
    assert got.headline == "Ankara and Damascus sign pact"
    assert got.source == "Reuters World"
    assert got.also == ("Anadolu Agency", "Hürriyet")
    assert [r.rule_id for r in got.rules] == ["tr-sy", "low-rule"]  # most severe first
    assert got.rules[0].hits[0].snippet.startswith("Türkiye and Syria")
    assert render(got, "text").title == "[Turkey–Syria +1] Ankara and Damascus sign pact"


@pytest.mark.parametrize(
    "hits",
    ["not json", '{"a": 1}', '[1, "x", null]', '[{"term": 5, "entity": 7, "field": null, "snippet": ["x"]}]'],
)
def test_content_survives_odd_hits_json(tmp_path, hits):
    cfg = write_config(tmp_path, "")
    store = open_store(cfg)
    story, article = add_article(store, title="t", hits=[])
    store.db.execute("UPDATE matches SET hits = ? WHERE article_id = ?", [hits, article])
    got = load_content(store, article_id=article, story_id=story)
    body = render(got, "html").body
    assert "<b>Rule:</b> Turkey–Syria defence (high)" in body
    if hits.startswith("[{"):
        assert "“5” [7] in None: [&#x27;x&#x27;]" in body


@pytest.mark.parametrize(
    "published, shown",
    [
        ("2026-11-21T08:30:00+03:00", "Published: 2026-11-21 05:30 UTC"),
        ("2026-11-21", "Published: 2026-11-21"),
        ("2026-11-21T05:30:00", "Published: 2026-11-21 05:30"),
        ("yesterday\nBcc: x", "Published: yesterday Bcc: x"),
    ],
)
def test_published_time_is_shown_as_stored(published, shown):
    assert shown in render(content(published=published), "text").body.splitlines()


# -- every entry of the real feed fixtures, rendered in every format -------------------

REAL_FEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "real" / "feeds"
ALLOWED_TAGS = {"html": {"b", "br", "a"}, "markdown": {"p", "strong", "br", "a", "ul", "li"}}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.hrefs += [v for k, v in attrs if k == "href"]


def real_entries():
    from watcher.parse.feed import FeedError, parse_feed

    for path in sorted(p for p in REAL_FEEDS.rglob("*") if p.is_file()):
        try:
            feed = parse_feed(path.read_bytes(), url=f"https://feeds.example/{path.name}")
        except FeedError:
            continue
        for entry in feed.entries:
            yield path.name, feed.title or path.stem, entry


@pytest.mark.skipif(not REAL_FEEDS.is_dir(), reason="real fixtures are beside the repository")
def test_real_feed_entries_render_safely_in_every_format():
    seen = 0
    for name, source, entry in real_entries():
        item = content(
            headline=entry.title,
            source=source,
            link=entry.url,
            published=None,
            rules=(RuleLine("r", "Rule", "high", (HitLine("term", None, "text", entry.summary[:400]),)),),
        )
        for fmt in ("text", "markdown", "html"):
            msg = render(item, fmt, Limits(250, 2000))
            where = f"{name}: {entry.title[:60]!r} ({fmt})"
            assert "\n" not in msg.title and "\r" not in msg.title, where
            assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", msg.title + msg.body.replace("\n", "")), where
            assert len(msg.title) <= 250 and len(msg.body) <= 2000, where
            assert not re.search(r"[@＠](everyone|here)\b", msg.title + msg.body), where
            if fmt == "text":
                continue
            shown = msg.body if fmt == "html" else markdown.markdown(msg.body)
            tags = _Tags()
            tags.feed(shown)
            assert tags.tags <= ALLOWED_TAGS[fmt], (where, tags.tags - ALLOWED_TAGS[fmt])
            assert all(h.startswith(("https://", "http://")) for h in tags.hrefs), (where, tags.hrefs)
        seen += 1
    assert seen > 300
