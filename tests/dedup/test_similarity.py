"""Near-duplicates on real pages, and the fingerprint index."""

from __future__ import annotations

import functools
import gzip
import html
import json
import random
import re
import sys
from pathlib import Path

import pytest
from support import REAL

from watcher.config import DedupConfig
from watcher.dedup.similarity import (
    FingerprintIndex,
    distance,
    fingerprint,
    resemblance,
    shingle_set,
)

PAGES = REAL / "html" / "scrapinghub"
SEEDS = Path(__file__).resolve().parents[2] / "seeds"
DEFAULTS = DedupConfig()

# Different reports of one event, by different outlets (real gold articles).
SAME_EVENT = [
    ("06e5123e", "1ace8c85"),  # WeWork investigated by the NY attorney general: VentureBeat / TechCrunch
    ("6ebac05f", "7a457a4f"),  # man pleads guilty to threatening Rep. Omar: The Hill / NBC News
    ("156770d6", "3f65af7b"),  # South Dakota "Meth. We're on it." campaign: The Hill / nj.com
]


@pytest.fixture(scope="module")
def gold() -> dict[str, str]:
    rows = json.loads((PAGES / "ground-truth.json").read_text(encoding="utf-8"))
    return {key: row["articleBody"] for key, row in sorted(rows.items())}


@functools.lru_cache(maxsize=4096)
def _features(text: str) -> tuple[int | None, frozenset[str]]:
    return fingerprint(text), shingle_set(text)


def joins(a: str, b: str) -> bool:
    """Would Stories join these two texts at the default thresholds?"""
    (fa, sa), (fb, sb) = _features(a), _features(b)
    return (
        fa is not None
        and fb is not None
        and distance(fa, fb) <= DEFAULTS.max_distance
        and resemblance(sa, sb) >= DEFAULTS.min_resemblance
    )


@functools.cache
def _page_lines(key: str) -> tuple[str, ...]:
    """Visible text lines of a real page, tags and scripts stripped."""
    page = gzip.decompress((PAGES / f"{key}.html.gz").read_bytes()).decode("utf-8", "replace")
    page = re.sub(r"(?is)<(script|style|noscript)\b.*?</\1\s*>|<!--.*?-->", " ", page)
    return tuple(
        line for chunk in re.split(r"<[^>]*>", page) if (line := " ".join(html.unescape(chunk).split()))
    )


def site_chrome(key: str, body: str, lines: int = 8) -> tuple[list[str], list[str]]:
    """Real navigation and footer lines of another site's page."""
    rest = [line for line in _page_lines(key) if not (len(line) > 40 and line in body)]
    return rest[:lines], rest[-lines:]


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|(?<=[。！？])", text) if s.strip()]


def paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n") if p.strip()]


def copies(key: str, gold: dict[str, str], rnd: random.Random) -> dict[str, str]:
    keys = list(gold)
    text, other = gold[key], keys[(keys.index(key) + 7) % len(keys)]
    head, foot = site_chrome(other, gold[other])
    found = sentences(text)
    gone = set(rnd.sample(range(len(found)), max(1, round(len(found) / 10)))) if len(found) > 3 else set()
    mine = paragraphs(text)
    theirs = sorted(paragraphs(gold[other]), key=len)
    extra = theirs[len(theirs) // 2]  # a paragraph of middling length
    cut = max(1, len(mine) // 5)
    return {
        "another headline": sentences(gold[other])[0] + "\n" + text,
        "another site's boilerplate": "\n".join(head + [text] + foot),
        "10% of sentences dropped": " ".join(s for i, s in enumerate(found) if i not in gone),
        "a paragraph added": "\n".join(mine[:1] + [extra] + mine[1:]),
        "last paragraphs trimmed": "\n".join(mine[: len(mine) - cut]) if len(mine) > 2 else text,
    }


def test_every_kind_of_copy_of_every_real_article_joins_its_original(gold):
    rnd = random.Random(7)
    missed = [
        (key[:8], kind)
        for key in gold
        for kind, text in copies(key, gold, rnd).items()
        if not joins(gold[key], text)
    ]
    assert missed == []


def test_all_changes_at_once_still_join_most_articles(gold):
    rnd = random.Random(8)
    results = []
    for key in gold:
        c = copies(key, gold, rnd)
        page = list(gold)[(list(gold).index(key) + 3) % len(gold)]
        head, foot = site_chrome(page, gold[page])
        text = "\n".join(head + [c["10% of sentences dropped"]] + foot)
        results.append(joins(gold[key], text))
    assert sum(results) / len(results) >= 0.85


def test_no_two_different_real_articles_join(gold):
    keys = list(gold)
    joined = [(a[:8], b[:8]) for i, a in enumerate(keys) for b in keys[i + 1 :] if joins(gold[a], gold[b])]
    assert joined == []


@pytest.mark.parametrize("a, b", SAME_EVENT)
def test_two_reports_of_one_event_do_not_join(gold, a, b):
    (ka,), (kb,) = ([k for k in gold if k.startswith(p)] for p in (a, b))
    r = resemblance(shingle_set(gold[ka]), shingle_set(gold[kb]))
    assert 0 < r < DEFAULTS.min_resemblance / 2  # they share a few quotes, no more
    assert not joins(gold[ka], gold[kb])


def test_turkey_syria_defence_articles_on_one_topic_stay_apart():
    seeds = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    assert len(seeds) >= 5
    assert not any(joins(a, b) for i, a in enumerate(seeds) for b in seeds[i + 1 :])
    # while the same article under a new headline and with a sentence gone does join
    text = seeds[0]
    copy = "Türkiye to help rebuild Syria's army\n" + " ".join(sentences(text)[:3] + sentences(text)[4:])
    assert joins(text, copy)


def test_fingerprint_is_a_signed_int64_and_stable(gold):
    text = next(iter(gold.values()))
    fp = fingerprint(text)
    assert -(2**63) <= fp < 2**63
    assert fingerprint(text) == fp
    assert fingerprint(text.upper().replace("\n", "  ")) == fp  # normalised words
    assert fingerprint("too short to say anything") is None
    assert distance(fp, fp) == 0 and distance(fp, ~fp) == 64
    assert distance(-1, 2**64 - 1) == 0  # signed or unsigned alike


def test_resemblance_is_measured_against_the_longer_text(gold):
    texts = list(gold.values())
    short, long_ = texts[0], "\n".join(texts[:6])
    assert resemblance(shingle_set(short), shingle_set(long_)) < 0.3  # a round-up quoting it
    assert resemblance(shingle_set(short), shingle_set(short)) == 1.0
    assert resemblance(frozenset(), shingle_set(short)) == 0.0


# -- the index --------------------------------------------------------------------
def test_index_finds_near_fingerprints_nearest_first_and_only_within_radius():
    index = FingerprintIndex(capacity=2)
    base = 0x0123_4567_89AB_CDEF
    index.extend(
        [1, 2, 3, 4], [base ^ 0b111, base ^ 0b1, base ^ ((1 << 20) - 1), -base], [100.0, 100.0, 100.0, 100.0]
    )
    assert index.near(base, max_distance=18, since=0) == [(2, 1), (1, 3)]
    assert index.near(base, max_distance=20, since=0) == [(2, 1), (1, 3), (3, 20)]
    assert index.near(base, max_distance=2, since=0) == [(2, 1)]
    assert index.near(base, max_distance=18, since=0, limit=1) == [(2, 1)]
    assert len(index) == 4


def test_index_window_and_expiry():
    index = FingerprintIndex()
    for i in range(10):
        index.add(i + 1, 42, float(i * 100))
    assert [a for a, _ in index.near(42, max_distance=0, since=500.0)] == [6, 7, 8, 9, 10]
    index.expire(700.0)
    assert len(index) == 3
    assert index.near(42, max_distance=0, since=0.0) == [(8, 0), (9, 0), (10, 0)]


def test_index_time_never_goes_back():
    index = FingerprintIndex()
    index.add(1, 5, 1000.0)
    index.add(2, 5, 10.0)  # clock skew: kept in the window as long as entry 1
    assert [a for a, _ in index.near(5, max_distance=0, since=999.0)] == [1, 2]


def test_index_forgets_rolled_back_rows_and_dedupes_ids():
    index = FingerprintIndex()
    index.extend([1, 2, 3], [7, 7, 7], [1.0, 2.0, 3.0])
    index.drop_after(1)
    assert index.near(7, max_distance=0, since=0) == [(1, 0)]
    index.add(1, 7 ^ 0b11, 4.0)  # the same article re-indexed after an edit
    assert index.near(7, max_distance=4, since=0) == [(1, 0)]


def test_index_grows_and_reports_its_memory():
    index = FingerprintIndex(capacity=16)
    index.extend(list(range(1, 5001)), list(range(5000)), [0.0] * 5000)
    assert len(index) == 5000
    assert 5000 * 26 <= index.nbytes <= 2 * 5000 * 34 + 1024
    assert index.near(4999, max_distance=0, since=0) == [(5000, 0)]


def test_real_pages_through_the_extractor_join_their_clean_gold_text(gold):
    """The same article as two sites give it: the real page with its navigation,
    captions and links, extracted by the watcher, against the clean gold text."""
    from watcher.extract.extractor import Extractor

    urls = {
        key: row["url"]
        for key, row in json.loads((PAGES / "ground-truth.json").read_text(encoding="utf-8")).items()
    }
    keys = list(gold)[::9]  # 13 pages from all over the set
    with Extractor(timeout=60) as extractor:
        extracted = {
            k: extractor.extract(gzip.decompress((PAGES / f"{k}.html.gz").read_bytes()), url=urls[k]).text
            for k in keys
        }
    assert all(extracted[k] != gold[k] for k in keys)  # really two different texts
    missed = [k[:8] for k in keys if not joins(gold[k], extracted[k])]
    assert len(missed) <= 1, missed
    # and none of them joins another page's gold text
    assert not any(joins(gold[a], extracted[b]) for a in keys for b in keys if a != b)


def test_site_furniture_left_around_two_different_articles_does_not_join_them(gold):
    """An extractor that leaves a site's menu and footer in (8 lines each end,
    real ones) makes two different articles of that site look alike; they must
    still not join. The furniture's short lines do not count at all."""
    keys = list(gold)
    joined = []
    for i, key in enumerate(keys):
        site = keys[(i + 11) % len(keys)]
        head, foot = site_chrome(site, gold[site])
        other = keys[(i + 1) % len(keys)]
        a, b = ("\n".join(head + [gold[k]] + foot) for k in (key, other))
        if joins(a, b):
            joined.append((key[:8], other[:8]))
    assert joined == []


def test_short_lines_do_not_count():
    from watcher.dedup.similarity import content_words

    text = "Home\nWorld | Sport\nShare on Facebook\n" + TEXT_LINE + "\n© 2026 Daily Sabah\nPrivacy Policy"
    assert content_words(text) == content_words(TEXT_LINE)
    assert fingerprint(text * 5) == fingerprint(TEXT_LINE * 5)


TEXT_LINE = (
    "Türkiye will take an active role in restructuring the Syrian military, Turkish "
    "Ministry of National Defence sources confirmed on Thursday."
)


def test_word_hashes_made_on_many_threads_while_their_cache_empties_are_the_same(gold, monkeypatch):
    """Poll threads fingerprint texts at once and share the cache of word hashes,
    which is emptied when full: a thread reading it as another empties it still
    gets the hashes one thread alone gets (it failed with a KeyError, and the
    entry with it). The bound is made small so that it empties all the time,
    and threads change hands as often as Python lets them."""
    import threading

    from watcher.dedup import similarity

    vocabulary = sorted({w for text in gold.values() for w in text.split()})[:2000]
    texts = [random.Random(n).sample(vocabulary, 40) for n in range(300)]
    monkeypatch.setattr(similarity, "WORD_HASHES", 50)
    alone = [similarity.shingle_hashes(t).tolist() for t in texts]
    failures: list[BaseException] = []
    wrong: list[int] = []

    def work(seed: int) -> None:
        order = random.Random(seed).sample(range(len(texts)), len(texts))
        try:
            for _ in range(10):
                wrong.extend(i for i in order if similarity.shingle_hashes(texts[i]).tolist() != alone[i])
        except BaseException as exc:  # shown by the assertion below
            failures.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == [] and wrong == []
