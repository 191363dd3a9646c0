"""The content hash and the SimHash are stored with every article and compared
with those of new articles: however they are computed, their values never
change (or the next copy of an old article would not be recognised). Pinned
here on real texts (the gold articles of ../shared/fixtures/real/html/scrapinghub
and the seed articles), and checked against the definition written out plainly."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pytest
from support import REAL

from watcher.dedup.identity import MIN_WORDS, content_hash
from watcher.dedup.similarity import MIN_LINE_WORDS, fingerprint
from watcher.text.boundaries import UNSPACED_SPLIT, is_unspaced
from watcher.text.fold import normalise

GOLD = REAL / "html" / "scrapinghub" / "ground-truth.json"
SEEDS = Path(__file__).resolve().parents[2] / "seeds"

# (text, its SimHash, its content hash), as computed before the hashing was
# made faster (main at d3e3699): English, Japanese, Korean-English, and the
# seed articles (Turkish and Arabic names, curly quotes).
PINNED = [
    (
        "gold:06e5123e",
        4211064536486452274,
        "478ec61cd71c9815ab23ad717da1ca8e8df3adb738f4f6813d4de98f907827b6",
    ),
    (
        "gold:06ee193d",
        -973713670988238492,
        "9379ab4a0eaa50c8ca06390389d4de5201009031d5916c1f66c7fea9c09553c3",
    ),
    (
        "gold:85439e26",
        -1868199103425502357,
        "ed2555128578e1451d72da1815d5411283c43964c795790122ebdaa197538d8c",
    ),
    (
        "gold:8cad00dc",
        7317078333164050946,
        "b62a4fe47484e86b998dcbf69d1c1c77630ddb34cab3d459a4faacc7a70c0fc6",
    ),
    (
        "gold:f105de6e",
        -5094570903540045455,
        "f9b56c97824ac1d75204e17059acd40a048313d0b2f0ec22581a709c47aa30fb",
    ),
    (
        "seed:000_1563797045f8b30e",
        -4681997320116459047,
        "f487a81f357c1153d6050794eb5f62031df938ab568e9f5d3e5924d743fa8f18",
    ),
    (
        "seed:001_e9eb589e9b2f77ec",
        2315985383584193770,
        "3f1d21912f2adee497c3921ecb7f2c558c65d970b275a896ec2c2a447814a9a5",
    ),
    (
        "seed:002_6f0372442f866925",
        9171321885775081985,
        "58c09d6e631fc94d35adbd7f8b59de666edfa35f7e67b245b1340defda624ee4",
    ),
    (
        "seed:003_82295df41279a9d5",
        8019809945914601755,
        "6756e12481a7a3c33669174d20bd5023c6380437fdbc151f8dd110f110e05f59",
    ),
    (
        "seed:004_d0733b9e29fb1017",
        8772669118900989533,
        "70583679bbb58a2f1c9da5bff53c9f42dd358d960c08dbb4aaaa2efa8d087a87",
    ),
]


@pytest.fixture(scope="module")
def gold() -> dict[str, str]:
    rows = json.loads(GOLD.read_text(encoding="utf-8"))
    return {key: row["articleBody"] for key, row in sorted(rows.items())}


def text_of(name: str, gold: dict[str, str]) -> str:
    kind, key = name.split(":")
    if kind == "seed":
        return (SEEDS / f"{key}.txt").read_text(encoding="utf-8")
    return next(text for k, text in gold.items() if k.startswith(key))


@pytest.mark.parametrize(("name", "simhash", "chash"), PINNED, ids=[p[0] for p in PINNED])
def test_stored_values_of_real_texts_never_change(gold, name, simhash, chash):
    text = text_of(name, gold)
    assert fingerprint(text) == simhash
    assert content_hash(text) == chash
    folded = normalise(text)  # as the pipeline hands it: folded once
    assert (fingerprint(folded), content_hash(folded)) == (simhash, chash)


# -- the definitions, written out one word at a time ----------------------------
M64 = (1 << 64) - 1


def plain_words(text: str) -> list[list[str]]:
    """The folded words per line, every letter of an unspaced script a word."""
    lines = []
    for line in text.splitlines():
        words: list[str] = []
        for word in normalise(line).text.split():
            words += UNSPACED_SPLIT.findall(word) if any(is_unspaced(c) for c in word) else [word]
        lines.append(words)
    return lines


def plain_fingerprint(text: str) -> int | None:
    words = [w for line in plain_words(text) if len(line) >= MIN_LINE_WORDS for w in line]
    if len(words) < MIN_WORDS:
        return None
    hashes = [int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little") for w in words]
    ones = [0] * 64
    for a, b, c in zip(hashes, hashes[1:], hashes[2:], strict=False):
        x = (a * 0x9E3779B97F4A7C15 + b * 0xC2B2AE3D27D4EB4F + c * 0x165667B19E3779F9) & M64
        x ^= x >> 30
        x = (x * 0xBF58476D1CE4E5B9) & M64
        x ^= x >> 27
        x = (x * 0x94D049BB133111EB) & M64
        x ^= x >> 31
        for bit in range(64):
            ones[bit] += (x >> bit) & 1
    value = sum(1 << bit for bit in range(64) if ones[bit] * 2 > len(hashes) - 2)
    return value - (1 << 64) if value >= 1 << 63 else value


def plain_content_hash(text: str) -> str | None:
    words = [w for line in plain_words(text) for w in line]
    if len(words) < MIN_WORDS:
        return None
    return hashlib.sha256(" ".join(words).encode()).hexdigest()


def test_every_gold_article_hashes_as_the_definition_says(gold):
    for text in gold.values():
        # one line per paragraph: no article here has an article word cut across lines
        assert fingerprint(text) == plain_fingerprint(text)
        assert content_hash(text) == plain_content_hash(text)


def test_a_folded_text_crosses_to_another_process_without_its_caches(gold):
    """The extraction worker pickles the folded text back to the process that
    stores: what that process reads from it (words per line, the way back to
    original offsets, sentences) is the same, and the caches the worker
    worked out on the way (words per line) are not sent."""
    for text in [*gold.values(), (SEEDS / "002_6f0372442f866925.txt").read_text(encoding="utf-8")]:
        folded = normalise(text)
        before = len(pickle.dumps(folded))
        lines = folded.line_words()  # what the worker's fingerprint works out
        sent = pickle.dumps(folded)
        assert len(sent) == before
        got = pickle.loads(sent)
        assert (got.original, got.text) == (folded.original, folded.text)
        assert got.line_words() == lines
        assert got.words == folded.words
        assert got.starts == folded.starts and got.ends == folded.ends
        assert got.token_sentences == folded.token_sentences
