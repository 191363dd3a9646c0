"""Matching, search and dedup fold text the same way (watcher/text/fold.py):
whatever spelling the rules treat as the same word, search finds and dedup
counts as the same word too. Real texts: the seed articles (seeds/) and a
Korean news article with gold text (../shared/fixtures/real/html/scrapinghub)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import new_article

from watcher.dedup import similarity
from watcher.dedup.identity import content_hash, normal_words
from watcher.match.matcher import Document, Matcher
from watcher.match.rules import load_rules
from watcher.review import search
from watcher.store import feeds, searchindex
from watcher.store.database import Store

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
GOLD = ROOT.parent / "shared" / "fixtures" / "real" / "html" / "scrapinghub" / "ground-truth.json"

# (seed, the spelling in the seed, another spelling of the same word)
SPELLINGS = [
    (0, "Türkiye", "TURKIYE"),  # case and diacritics
    (0, "Erdoğan", "Erdogan"),
    (2, "al-Sharaa", "Sharaa"),  # the Arabic article, transcribed
    (3, "al-Sharaa", "al Sharaa"),
    (4, "Hakan Fidan", "HAKAN FİDAN"),  # Turkish dotted capital İ
    (1, "Ankara", "An\u00adkara"),  # a soft hyphen inside the word
]


def rules_for(tmp_path: Path, term: str):
    path = tmp_path / "rules.toml"
    path.write_text(
        f'[[rules]]\nid = "r"\ntitle = "r"\nseverity = "low"\n'
        f"condition = {{ terms = [{json.dumps(term)}] }}\n",
        encoding="utf-8",
    )
    return Matcher(load_rules([path]))


def searchable(text: str) -> Store:
    store = Store.open(":memory:")
    stamp = "2026-11-21T00:00:00+00:00"
    with store.atomic():
        feed = feeds.add(store, "https://example.org/feed", "Example", stamp)
        article = new_article(store, feed_id=feed, url="https://example.org/a", fetched_at=stamp, text=text)
        searchindex.put(store, article, "", text)
    return store


@pytest.mark.parametrize("seed, written, other", SPELLINGS, ids=[s[2] for s in SPELLINGS])
def test_a_spelling_the_rules_equate_is_equal_for_search_and_dedup(tmp_path, seed, written, other):
    text = SEEDS[seed].read_text(encoding="utf-8")
    assert written in text
    respelled = text.replace(written, other)
    # matching: a rule written with the other spelling finds the word as written
    (match,) = rules_for(tmp_path, other).match(Document("seed", "", text))
    assert match.hits and all(text[h.start : h.end] in written for h in match.hits)  # "Sharaa" of "al-Sharaa"
    # dedup: the respelled copy is the same text
    assert content_hash(respelled) == content_hash(text) is not None
    assert similarity.fingerprint(respelled) == similarity.fingerprint(text)
    # search: the other spelling finds the article, and marks the word as written
    store = searchable(text)
    try:
        (hit,) = search.search(store, other)
    finally:
        store.close()
    marked = [s.text for s in hit.snippet if s.mark]
    assert marked and all(m in written for m in marked)


def test_a_different_word_is_different_for_all_three(tmp_path):
    text = SEEDS[0].read_text(encoding="utf-8")
    changed = text.replace("Türkiye", "Turkey")
    assert rules_for(tmp_path, "Turkey").match(Document("seed", "", text)) == ()
    assert content_hash(changed) != content_hash(text)
    store = searchable(text)
    try:
        assert search.search(store, "Turkey") == ()
    finally:
        store.close()


def test_korean_words_stay_whole_for_dedup_while_rules_match_inside_them(tmp_path):
    """Hangul separates words with spaces but attaches particles ("MBC는"):
    a rule term matches inside the word, and dedup shingles whole words."""
    if not GOLD.exists():
        pytest.skip("the shared real fixtures are not present")
    korean = next(
        v["articleBody"]
        for v in json.loads(GOLD.read_text(encoding="utf-8")).values()
        if sum("\uac00" <= c <= "\ud7af" for c in v["articleBody"]) > 1000
    )
    assert len(normal_words(korean)) < 1.5 * len(korean.split())  # words, not one per letter
    (match,) = rules_for(tmp_path, "MBC").match(Document("ko", "", korean))
    assert all(korean[h.start : h.end] == "MBC" for h in match.hits)
    assert similarity.fingerprint(korean) is not None
