"""The fast feed path (watcher/parse/xmlfeed.py, lxml) gives the same entries
as feedparser, field by field: every real fixture feed (../shared/fixtures/real
and tests/data) is read both ways, and so are seeded variations of the ones
the fast path reads (elements dropped, repeated, moved, given a language or a
type, and the elements feedparser gives a meaning to added: media:title,
itunes:summary, a second description, guid isPermaLink...), and variations
with ``xml:base`` (absolute, relative, empty, nested, on the feed, entries,
links, ids and content, before and after relative links) and Atom's inline
XHTML content."""

from __future__ import annotations

import copy
import dataclasses
import random
from pathlib import Path

import pytest
from support import REAL

from watcher.parse.feed import FeedError, ParsedFeed, parse_feed

ROOT = Path(__file__).resolve().parents[2]
FEEDS = sorted(
    p
    for p in [*(REAL / "feeds").rglob("*"), *(ROOT / "tests" / "data").rglob("*")]
    if p.is_file() and p.suffix in (".xml", ".rss", ".atom", ".rdf", "")
)
TYPES = {".atom": "application/atom+xml", ".rss": "application/rss+xml"}
URL = "https://example.org/feed"
# Real news feeds the fast path must read itself (else the comparison proves nothing).
FAST = [
    "rss-parser/guardian.rss",
    "rss-parser/heise.atom",
    "rss-parser/reddit.rss",
    "rss-parser/reddit-home.rss",  # xml:base on XHTML content, relative ids after it
    "rss-parser/content-encoded.rss",
    "feed-rs/rss2/rss_2.0_cloudflare.xml",
    "feed-rs/rss2/rss_2.0_nbcny.xml",
    "feed-rs/rss2/rss_2.0_ilmessaggero.xml",
    "feed-rs/atom/atom_mediarss_youtube_1.xml",
    "feed-rs/atom/atom_xml_base.xml",
    "newsboat/atom10_1.xml",  # xml:base
]


def both_ways(data: bytes, content_type: str | None = None) -> tuple[object, object]:
    """(fast path allowed, feedparser only): the ParsedFeed or the FeedError's message."""
    out = []
    for fast in (True, False):
        try:
            out.append(parse_feed(data, url=URL, content_type=content_type, fast=fast))
        except FeedError as exc:
            out.append(str(exc))
    return out[0], out[1]


def same(a: object, b: object) -> None:
    """Equal field by field (not minding which parser read it), with the field named when not."""
    if not (isinstance(a, ParsedFeed) and isinstance(b, ParsedFeed)):
        assert a == b
        return
    assert (a.title, a.language, a.warning) == (b.title, b.language, b.warning)
    assert len(a.entries) == len(b.entries)
    for x, y in zip(a.entries, b.entries, strict=True):
        for field in dataclasses.fields(x):
            assert getattr(x, field.name) == getattr(y, field.name), (field.name, x.guid)


def test_every_fixture_feed_gives_the_same_entries_both_ways():
    assert len(FEEDS) >= 300
    read_fast = set()
    for path in FEEDS:
        fast, slow = both_ways(path.read_bytes(), TYPES.get(path.suffix))
        same(fast, slow)
        if isinstance(fast, ParsedFeed) and fast.reader == "lxml":
            read_fast.add(path)
    assert isinstance(slow, ParsedFeed | str)
    assert {REAL / "feeds" / name for name in FAST} <= read_fast
    assert len(read_fast) >= 80, len(read_fast)


@pytest.mark.parametrize("name", FAST)
def test_a_news_feed_is_read_by_the_fast_path_into_real_entries(name):
    parsed = parse_feed(
        (REAL / "feeds" / name).read_bytes(), url=URL, content_type=TYPES.get(Path(name).suffix)
    )
    assert parsed.reader == "lxml" and parsed.entries
    assert all(e.guid and e.title for e in parsed.entries)
    assert any(e.url and e.url.startswith("http") for e in parsed.entries)


# -- variations --------------------------------------------------------------------------

MEDIA = "http://search.yahoo.com/mrss/"
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
DC = "http://purl.org/dc/elements/1.1/"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
ATOM = "http://www.w3.org/2005/Atom"
RSS10 = "http://purl.org/rss/1.0/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NAMES = {"media": MEDIA, "itunes": ITUNES, "dc": DC, "content": CONTENT}
KINDS = [
    "title",
    "description",
    "summary",
    "media:title",
    "media:description",
    "itunes:summary",
    "content:encoded",
    "dc:creator",
    "author",
    "guid",
    "link",
    "pubDate",
    "dc:date",
    "language",
    "category",
    "media:group",
    "source",
    "comments",
    "foo",
    "id",
    "updated",
    "content",
    "itunes:author",
    "media:thumbnail",
]
TEXTS = [
    "plain",
    "  spaced  ",
    "a &amp; b",
    "<b>bold</b> text",
    "caf\u00c3\u00a9",  # UTF-8 read as Latin-1 (feedparser repairs it)
    "\u0093quoted\u0094",  # C1 controls (feedparser maps them as cp1252)
    "Name <a@b.com>",
    "a@b.com (Alice)",
    "",
    "http:///example.org//y",
    "Tue, 10 Jun 2003 04:00:00 GMT",
    "2003-12-31T10:14:55Z",
]
ATTRIBUTES = ["type", "isPermaLink", "rel", "href", XML_LANG, "lang", "mode", "TYPE"]
VALUES = [
    "html",
    "text",
    "xhtml",
    "false",
    "true",
    "True",
    "alternate",
    "self",
    "http://e.org/a",
    "en_US",
    "",
]


def new_element(rng: random.Random, atom: bool):
    from lxml import etree  # the test builds variations; watcher reads them

    kind = rng.choice(KINDS)
    if ":" in kind:
        prefix, local = kind.split(":")
        tag = f"{{{NAMES[prefix]}}}{local}"
    else:
        tag = f"{{{ATOM}}}{kind}" if atom else kind
    el = etree.Element(tag, nsmap=NAMES)
    el.text = rng.choice(TEXTS)
    if kind == "media:group":
        el.text = None
        el.append(new_element(rng, atom))
    if rng.random() < 0.2:
        el.set(rng.choice(ATTRIBUTES), rng.choice(VALUES))
    return el


def vary(rng: random.Random, root) -> None:
    atom = root.tag == f"{{{ATOM}}}feed"
    items = list(root.iter("item", f"{{{ATOM}}}entry", f"{{{RSS10}}}item"))
    channel = root.find("channel") if root.find("channel") is not None else root.find(f"{{{RSS10}}}channel")
    containers = items + [channel if channel is not None else root]
    for _ in range(rng.randint(1, 4)):
        target = rng.choice(containers)
        kids = [k for k in target if isinstance(k.tag, str)]
        op = rng.random()
        if op < 0.2 and kids:
            target.remove(rng.choice(kids))
        elif op < 0.4 and kids:
            target.insert(rng.randint(0, len(target)), copy.deepcopy(rng.choice(kids)))
        elif op < 0.5 and kids:
            kid = rng.choice(kids)
            target.remove(kid)
            target.insert(rng.randint(0, len(target)), kid)
        elif op < 0.6 and kids:
            rng.choice(kids).set(rng.choice([XML_LANG, "type", "isPermaLink"]), rng.choice(VALUES))
        elif op < 0.7 and kids:
            kid = rng.choice(kids)
            if not len(kid):
                kid.text = rng.choice(TEXTS)
        else:
            target.insert(rng.randint(0, len(target)), new_element(rng, atom))


def test_variations_of_the_fast_feeds_give_the_same_entries_both_ways():
    from lxml import etree

    seeds = []
    for path in FEEDS:
        fast, _ = both_ways(path.read_bytes(), TYPES.get(path.suffix))
        if isinstance(fast, ParsedFeed) and fast.reader == "lxml":
            try:
                seeds.append(etree.fromstring(path.read_bytes(), etree.XMLParser(resolve_entities=False)))
            except etree.XMLSyntaxError:
                pass  # HTML entities the watcher's guard turns into XML ones first
    rng = random.Random(20261207)
    read_fast = 0
    for _ in range(250):
        root = copy.deepcopy(rng.choice(seeds))
        vary(rng, root)
        fast, slow = both_ways(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
        same(fast, slow)
        read_fast += isinstance(fast, ParsedFeed) and fast.reader == "lxml"
    assert read_fast >= 90, read_fast  # the variations do reach the fast path


# -- xml:base and inline XHTML -------------------------------------------------------------

XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
XHTML = "http://www.w3.org/1999/xhtml"
BASES = [
    "http://example.com/a/",
    "https://other.example/b/c?q=1",
    "/rel/path/",
    "/.rss?limit=50",  # reddit's
    "sub/",
    "../up/",
    "",
    "?page=2",
    "#frag",
    "//proto.example/x/",
    "javascript:alert(1)",
    "http:///slashes//x/",
    "mailto:a@b.example",
]
HREFS = [
    "page.html",
    "/abs/path?a=1&b=2",
    "http://abs.example/x",
    "https:////many/slashes",
    "../p/q",
    "?x=1",
    "#y",
    "t3_42tizy",
    "tag:example.org,2026:1",
    "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a",
    " spaced.html ",
]
XHTML_BODIES = [
    '<div xmlns="{x}">Plain <a href="rel.html" REL="NoFollow">link</a> &amp; <b>bold</b><br/>text</div>',
    '\n  <div xmlns="{x}" class="c"><p>One</p><p title="a &quot;q&quot; &lt;b&gt;">Two &lt;escaped&gt;</p></div>\n',
    '<div xmlns="{x}">first</div><div xmlns="{x}">second</div>',
    '<div xmlns="{x}"><div>inner</div> after</div>',
    'loose text <span xmlns="{x}">and a span</span>',
    '<x:div xmlns:x="{x}"><x:table><x:tr><x:td TYPE="Text/HTML">cell</x:td></x:tr></x:table></x:div>',
    '<div xmlns="{x}" xml:base="nested/"><img src="i.png" alt="&lt;p&gt;escaped markup&lt;/p&gt;"/></div>',
    "",
]


def add_base(rng: random.Random, el) -> None:
    el.set(XML_BASE if rng.random() < 0.85 else "base", rng.choice(BASES))


def xhtml_element(rng: random.Random, atom_tag: str):
    from lxml import etree

    kind = rng.choice(["", ' type="xhtml"', ' type="xhtml"', ' type="html"', ' type="XHTML"'])
    body = rng.choice(XHTML_BODIES).format(x=XHTML)
    return etree.fromstring(f'<{atom_tag} xmlns="{ATOM}"{kind}>{body}</{atom_tag}>')


def vary_bases(rng: random.Random, root) -> None:
    """xml:base where feedparser reads it, relative links and ids, inline XHTML."""
    from lxml import etree

    atom = root.tag == f"{{{ATOM}}}feed"
    items = list(root.iter("item", f"{{{ATOM}}}entry", f"{{{RSS10}}}item"))
    channel = root.find("channel")
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        everything = [e for e in root.iter() if isinstance(e.tag, str)]
        if op < 0.1:
            add_base(rng, root if channel is None or rng.random() < 0.5 else channel)
        elif op < 0.25 and items:
            add_base(rng, rng.choice(items))
        elif op < 0.45:
            add_base(rng, rng.choice(everything))  # links, ids, content, authors, media:group...
        elif op < 0.7 and items:
            item = rng.choice(items)
            links = [
                e
                for e in item
                if e.tag in ("link", "guid", f"{{{RSS10}}}link", f"{{{ATOM}}}id", f"{{{ATOM}}}link")
            ]
            links += item.findall(f"{{{ATOM}}}author/{{{ATOM}}}uri")
            if links:
                target = rng.choice(links)
                if target.tag == f"{{{ATOM}}}link":
                    target.set("href", rng.choice(HREFS))
                elif not len(target):
                    target.text = rng.choice(HREFS)
                if rng.random() < 0.5:
                    add_base(rng, target)
            else:
                new = etree.SubElement(item, f"{{{ATOM}}}id" if atom else rng.choice(["link", "guid"]))
                new.text = rng.choice(HREFS)
        elif op < 0.9 and atom and items:
            item = rng.choice(items)
            for old in item.findall(f"{{{ATOM}}}content") + item.findall(f"{{{ATOM}}}summary"):
                if rng.random() < 0.5:
                    item.remove(old)
            new = xhtml_element(rng, rng.choice(["content", "summary", "title"]))
            if rng.random() < 0.5:
                add_base(rng, new)
            item.insert(rng.randint(0, len(item)), new)
        elif items:
            item = rng.choice(items)  # a relative link after an element with a base of its own
            kids = [k for k in item if isinstance(k.tag, str)]
            if kids:
                add_base(rng, rng.choice(kids))
            tag = f"{{{ATOM}}}link" if atom else "link"
            new = etree.SubElement(item, tag)
            if atom:
                new.set("href", rng.choice(HREFS))
            else:
                new.text = rng.choice(HREFS)


XML_BASE_FEEDS = [
    "rss-parser/reddit-home.rss",
    "feed-rs/atom/atom_xml_base.xml",
    "newsboat/atom10_1.xml",
    "newsboat/rss092_1.xml",
    "newsboat/items_without_titles.xml",
    "rss-parser/rss-1.rss",  # RSS 1.0: the items follow the channel, and its base
]


def test_xml_base_and_xhtml_variations_give_the_same_entries_both_ways():
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False)
    seeds = [etree.fromstring((REAL / "feeds" / name).read_bytes(), parser) for name in XML_BASE_FEEDS]
    seeds += [etree.fromstring((REAL / "feeds" / name).read_bytes(), parser) for name in FAST]
    rng = random.Random(11)
    read_fast = based = xhtml = 0
    for _ in range(300):
        root = copy.deepcopy(rng.choice(seeds))
        vary_bases(rng, root)
        data = etree.tostring(root, xml_declaration=True, encoding="utf-8")
        fast, slow = both_ways(data)
        same(fast, slow)
        if isinstance(fast, ParsedFeed) and fast.reader == "lxml":
            read_fast += 1
            based += b"base=" in data
            xhtml += b'type="xhtml"' in data
    # The variations do reach the fast path, with bases and XHTML in them.
    assert read_fast >= 150 and based >= 120 and xhtml >= 30, (read_fast, based, xhtml)


def test_a_relative_id_after_reddit_s_content_base_is_resolved_against_it():
    """reddit's entries: <content xml:base="/.rss?limit=50"> and then <id>t3_...</id>;
    feedparser leaves the content's base in force, so the id becomes /t3_..."""
    data = (REAL / "feeds" / "rss-parser" / "reddit-home.rss").read_bytes()
    parsed = parse_feed(data, url=URL, content_type="application/atom+xml")
    assert parsed.reader == "lxml"
    first = parsed.entries[0]
    assert first.guid == "/t3_42tizy"
    assert (
        first.url
        == "https://www.reddit.com/r/funny/comments/42tizy/how_the_british_as_seen_by_americans_and_europeans/"
    )
    assert first.summary.startswith("submitted by /u/AngryRedditorsBelow to /r/funny [link] [1143 comments]")


@pytest.mark.parametrize(
    ("feed", "link"),
    [
        # nested bases: the entry's joins the feed's
        (
            f'<feed xmlns="{ATOM}" xml:base="http://example.com/a/"><title>t</title>'
            '<entry xml:base="b/"><id>i</id><title>x</title><link href="c.html"/></entry></feed>',
            "http://example.com/a/b/c.html",
        ),
        # a relative base with no absolute one around it stays relative; the watcher
        # then resolves against the feed's own address
        (
            f'<feed xmlns="{ATOM}"><title>t</title>'
            '<entry xml:base="/x/"><id>i</id><title>x</title><link href="c.html"/></entry></feed>',
            "https://example.org/x/c.html",
        ),
        # a base on the link itself
        (
            '<rss version="2.0"><channel><title>t</title><item><title>x</title>'
            '<link xml:base="http://example.com/d/">e.html</link></item></channel></rss>',
            "http://example.com/d/e.html",
        ),
        # a javascript: base is not taken
        (
            '<rss version="2.0"><channel xml:base="http://example.com/"><title>t</title><item>'
            '<title>x</title><link xml:base="javascript:alert(1)">e.html</link></item></channel></rss>',
            "http://example.com/e.html",
        ),
    ],
)
def test_links_are_resolved_against_xml_base_by_the_fast_path(feed, link):
    fast, slow = both_ways(feed.encode())
    same(fast, slow)
    assert isinstance(fast, ParsedFeed) and fast.reader == "lxml"
    assert fast.entries[0].url == link


def test_links_have_their_slashes_folded_as_feedparser_does():
    """The fast path's _urifixer without the template: the same string for every link."""
    from feedparser.urls import _urifixer

    from watcher.parse.xmlfeed import _fold_slashes

    rng = random.Random(3)
    links = ["http:///x//y", "HTTP:////A?b://c", "h-t.t+p:///a", "ht,tp:///a", "1http:///a", "a:b://c", "://"]
    links += ["".join(rng.choice("ab:/.-+,1 ?") for _ in range(rng.randint(0, 12))) for _ in range(5000)]
    assert [_fold_slashes(link) for link in links] == [_urifixer.sub(r"\1\3", link) for link in links]


def test_entries_spelt_in_capitals_count_against_the_bound_on_both_paths():
    """feedparser reads <ITEM> and <Entry> as entries: 300 of them beside 300 <item>s
    are 600, more than the watcher keeps, so the fast path must leave the document
    to the bounded reading (the same 500 entries and the same note either way)."""
    items = "".join(
        f"<{tag}><title>t{n}</title><link>http://e.org/{n}</link></{tag}>"
        for n, tag in enumerate(["item", "ITEM"] * 300)
    )
    data = f'<rss version="2.0"><channel><title>c</title>{items}</channel></rss>'.encode()
    fast, slow = both_ways(data)
    same(fast, slow)
    assert isinstance(fast, ParsedFeed) and len(fast.entries) == 500
    assert fast.warning and "600 entries" in fast.warning


@pytest.mark.parametrize(
    "attribute", ['type=""', 'TYPE="html"', 'Type="text"', 'type="HTML"', 'x:type="html"']
)
def test_odd_type_attributes_give_the_same_entries_both_ways(attribute):
    """feedparser lowers attribute names and reads type="" as a type of its own."""
    markup = "&lt;p&gt;&lt;img src='a.jpeg' /&gt; words&lt;/p&gt;"
    feed = (
        f'<feed xmlns="{ATOM}" xmlns:x="urn:x"><title>t</title><entry><id>i</id><title>x</title>'
        f"<content {attribute}>{markup}</content><summary {attribute}>{markup}</summary></entry></feed>"
    )
    fast, slow = both_ways(feed.encode())
    same(fast, slow)
    assert isinstance(slow, ParsedFeed) and len(slow.entries) == 1
