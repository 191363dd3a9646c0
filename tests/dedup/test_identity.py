"""Exact identity: canonical URLs and content hashes."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest
from support import REAL

from watcher.dedup import identity
from watcher.dedup.identity import MIN_WORDS, canonical_url, content_hash, normal_words

# (as linked, canonical)
SAME_ARTICLE = [
    # case, default ports, fragments, trailing slash
    (
        "HTTPS://WWW.DailySabah.COM:443/politics/turkiye-syria/",
        "https://www.dailysabah.com/politics/turkiye-syria",
    ),
    ("http://enabbaladi.net:80/archives/123#comments", "http://enabbaladi.net/archives/123"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com/#top", "https://example.com/"),
    # tracking parameters, of every family
    ("https://ex.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x", "https://ex.com/a"),
    ("https://ex.com/a?fbclid=IwAR0abc&gclid=Cj0K", "https://ex.com/a"),
    ("https://ex.com/a?mc_cid=1&mc_eid=2&ocid=msn&cmpid=rss", "https://ex.com/a"),
    ("https://ex.com/a?pk_campaign=x&mtm_source=y&_ga=2.1&xtor=RSS-1", "https://ex.com/a"),
    ("https://ex.com/a?ref=rss&source=twitter&rss=1", "https://ex.com/a"),
    (
        "http://science.sciencemag.org/cgi/content/short/356/6340/816-a?rss=1",
        "http://science.sciencemag.org/cgi/content/short/356/6340/816-a",
    ),
    # the article's own parameters stay, sorted by name
    ("https://ex.com/news.php?id=42&utm_source=x&cat=3", "https://ex.com/news.php?cat=3&id=42"),
    ("https://ex.com/view?cid=7&uid=9&gallery=2&p=12", "https://ex.com/view?cid=7&gallery=2&p=12&uid=9"),
    ("https://ex.com/a?b=2&a=1&a=0", "https://ex.com/a?a=1&a=0&b=2"),
    ("https://ex.com/a?print", "https://ex.com/a?print="),
    # AMP renderings of the same page
    ("https://www.ex.com/news/story/amp/", "https://www.ex.com/news/story"),
    ("https://www.ex.com/amp/news/story", "https://www.ex.com/news/story"),
    ("https://www.ex.com/news/story.amp", "https://www.ex.com/news/story"),
    ("https://www.ex.com/news/story.amp.html", "https://www.ex.com/news/story.html"),
    ("https://www.ex.com/news/story?amp", "https://www.ex.com/news/story"),
    ("https://www.ex.com/news/story?amp=1&id=3", "https://www.ex.com/news/story?id=3"),
    ("https://edition.cnn.com/2026/world/x?outputType=amp", "https://edition.cnn.com/2026/world/x"),
    ("https://amp.theguardian.com/world/2026/x", "https://www.theguardian.com/world/2026/x"),
    ("https://www-ex-com.cdn.ampproject.org/c/s/www.ex.com/news/story/amp", "https://www.ex.com/news/story"),
    ("https://www.google.com/amp/s/www.ex.com/news/story", "https://www.ex.com/news/story"),
    # paths: dot segments, doubled slashes, escapes
    ("https://ex.com/a/./b/../c", "https://ex.com/a/c"),
    ("https://ex.com//a//b", "https://ex.com/a/b"),
    ("https://ex.com/%c3%a9t%c3%a9", "https://ex.com/%C3%A9t%C3%A9"),
    ("https://ex.com/été", "https://ex.com/%C3%A9t%C3%A9"),
    ("https://xn--bcher-kva.example/x/", "https://bücher.example/x"),
    ("http://[::1]:80/x", "http://[::1]/x"),
    ("  https://ex.com/a  ", "https://ex.com/a"),
]

DIFFERENT = [
    # what must NOT be folded: other ports, schemes' own URLs, content params, hash routes
    ("https://ex.com:8443/a", "https://ex.com:8443/a"),
    ("https://ex.com/a?outputType=print", "https://ex.com/a?outputType=print"),
    ("https://ex.com/#!/story/5", "https://ex.com/#!/story/5"),
    ("https://ex.com/Case/Sensitive", "https://ex.com/Case/Sensitive"),
    ("https://ex.com/champion.html", "https://ex.com/champion.html"),
]

NOT_HTTP = [
    "",
    "not a url",
    "javascript:alert(1)",
    "mailto:a@b.example",
    "/relative/path",
    "urn:watcher:feed:3:guid-1",
    "https://ex.com:99999/bad-port",
    "http://[::1/broken",
]


@pytest.mark.parametrize("linked, canonical", SAME_ARTICLE + DIFFERENT)
def test_canonical_url(linked, canonical):
    assert canonical_url(linked) == canonical


@pytest.mark.parametrize("linked, canonical", SAME_ARTICLE + DIFFERENT)
def test_canonical_url_is_idempotent(linked, canonical):
    assert canonical_url(canonical) == canonical


def test_amp_folding_keeps_a_real_amp_segment_in_the_middle():
    # /amp/ as a section name in the middle of a path is not an AMP marker
    assert canonical_url("https://ex.com/music/amp/review-2") == "https://ex.com/music/amp/review-2"


@pytest.mark.parametrize("value", NOT_HTTP)
def test_anything_else_comes_back_stripped_not_raised(value):
    assert canonical_url(f" {value} ") == value


def _real_links() -> list[str]:
    links = set()
    for path in (REAL / "feeds").rglob("*"):
        if path.is_file():
            raw = path.read_bytes().decode("utf-8", "replace")
            for link in re.findall(r"<link>\s*(https?://[^<\s]+)\s*</link>|href=\"(https?://[^\"]+)\"", raw):
                links.add(html.unescape(link[0] or link[1]))
    return sorted(links)


def test_real_feed_links_stay_distinct_and_canonical_is_stable():
    """Over every link in the real feeds: canonical(canonical(u)) == canonical(u),
    and two links to different pages never become one."""
    links = _real_links()
    assert len(links) > 1000
    by_canonical: dict[str, set[str]] = {}
    for link in links:
        c = canonical_url(link)
        assert canonical_url(c) == c, link
        by_canonical.setdefault(c, set()).add(link)
    for c, group in by_canonical.items():
        pages = {(urlsplit(u).hostname, urlsplit(u).path.rstrip("/").removesuffix("/amp")) for u in group}
        assert len(pages) == 1, f"{c} merges different pages: {sorted(group)}"


TEXT = (
    "Türkiye will take an active role in restructuring the Syrian military, Turkish Ministry "
    "of National Defence sources confirmed, stating that the proposal came from Syria. Ankara "
    "and Damascus agreed upon a three-phased road map during President Shara’s Ankara visit, "
    "and a five-person delegation travelled to Damascus for preliminary discussions."
)


def test_content_hash_ignores_case_spacing_punctuation_and_marks():
    variants = [
        TEXT,
        TEXT.upper(),
        "  " + TEXT.replace(" ", "\n\n  ") + "\n",
        TEXT.replace("’", "'").replace(",", " ,").replace(".", " . "),
        TEXT.replace("Türkiye", "Turkiye").replace("Syrian", "Syr\u00adian"),  # soft hyphen
        TEXT.replace("Ministry", "Ｍｉｎｉｓｔｒｙ"),  # full-width (NFKC)
    ]
    assert len({content_hash(v) for v in variants}) == 1
    assert content_hash(TEXT) and len(content_hash(TEXT)) == 64


def test_content_hash_changes_with_the_words():
    assert content_hash(TEXT) != content_hash(TEXT.replace("three-phased", "four-phased"))
    assert content_hash(TEXT) != content_hash(TEXT + " One more sentence.")


def test_content_hash_refuses_short_texts():
    stub = "Subscribe to read the full article. Already a subscriber? Log in."
    assert len(normal_words(stub)) < MIN_WORDS
    assert content_hash(stub) is None
    assert content_hash("") is None
    assert content_hash(" ".join(["word"] * MIN_WORDS)) is not None


def test_normal_words_split_unspaced_scripts_and_keep_arabic_turkish_words():
    assert normal_words("東京都に住む") == ["東", "京", "都", "に", "住", "む"]
    assert normal_words("İstanbul’da Güler") == ["istanbul", "da", "guler"]
    assert normal_words("ALTINDAĞ") == normal_words("Altındağ") == ["altindag"]
    # Arabic vowel marks are dropped, and the article, as the matcher drops it
    assert normal_words("كَتَبَ الوزير") == ["كتب", "وزير"]


def test_a_huge_text_is_read_only_as_far_as_max_chars():
    from watcher.dedup.identity import MAX_CHARS

    huge = (TEXT + "\n") * (3 * MAX_CHARS // len(TEXT))
    assert len(huge) > 2 * MAX_CHARS
    assert content_hash(huge) == content_hash(huge[:MAX_CHARS] + " and a different ending")
    assert len(normal_words(huge)) < MAX_CHARS // 4


# -- issue 15 item 2: fragments that name the item ------------------------------------------------


def test_item02_a_fragment_names_the_item_when_it_tells_entries_of_one_page_apart():
    day = "http://scripting.com/2017/06/25.html"
    items = [(f"{day}#a{t}", f"{day}#a{t}") for t in ("122731", "124306", "125623")]
    items.append(("urn:other", "http://scripting.com/2017/06/24.html#a145701"))  # alone on its page
    assert identity.item_fragments(items) == {guid for guid, _ in items}
    assert identity.canonical_url(f"{day}#a122731", keep_fragment=True) == f"{day}#a122731"
    assert identity.canonical_url(f"{day}#a122731") == day


def test_item02_navigation_fragments_and_lone_fragments_still_fold():
    page = "https://example.org/2026/11/story.html"
    # The same page under two GUIDs, once with #comments: navigation, not an item.
    assert identity.item_fragments([("g1", page), ("g2", page + "#comments")]) == frozenset()
    assert identity.item_fragments([("g1", page + "#respond"), ("g2", page + "#more-123")]) == frozenset()
    # One entry with a fragment, nothing to tell apart: the plain page.
    assert (
        identity.item_fragments([("g1", page + "#section-2"), ("g2", "https://example.org/b")]) == frozenset()
    )
    # The same GUID twice (a repeated item) does not make the fragment an identity.
    assert identity.item_fragments([("g1", page + "#a1"), ("g1", page + "#a2")]) == frozenset()
    # Even when kept, a navigation fragment is dropped.
    assert identity.canonical_url(page + "#comments", keep_fragment=True) == page
