"""The parse stage under fuzzing (issue 15, item 7): a seeded mutator over the real
fixture feeds in ../shared/fixtures/real/feeds (feedparser's, feed-rs's,
rss-parser's, newsboat's suites and defusedxml's attacks) feeds thousands of
broken documents to ``parse_feed``. Every case must end in a ParsedFeed or a
FeedError, never another exception, and within 2 s of CPU time (a bound that
catches a superlinear blow-up on a loaded machine, not a speed test).

Each case is named ``<seed>:<index>:<fixture>:<mutations>``; ``mutated(seed, index)``
rebuilds it. ``WATCHER_FUZZ_CASES`` / ``WATCHER_FUZZ_SEED`` change the size and seed
(the defaults run in about half a minute).
"""

from __future__ import annotations

import codecs
import os
import random
import time

import pytest
from support import REAL

from watcher.parse.feed import FeedError, ParsedFeed, parse_feed

# The 1.6 MB podcast feed alone takes ~0.6 s to parse; it is read whole by test_feed.py.
CORPUS = sorted(p for p in (REAL / "feeds").rglob("*") if p.is_file() and p.stat().st_size < 400_000)
CASES = int(os.environ.get("WATCHER_FUZZ_CASES", "1500"))
SEED = int(os.environ.get("WATCHER_FUZZ_SEED", "20261121"))
BOUND = 2.0  # CPU seconds per case
MAX_SIZE = 2_000_000  # bytes a mutated document may grow to

TOKENS = [
    b"\x00",
    b"\xff",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\x80",
    b"\xc3",
    b"\xed\xa0\x80",
    b"<",
    b">",
    b"&",
    b";",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<!DOCTYPE rss [",
    b'<!ENTITY a "&#38;#38;">',
    b"]>",
    b"&lt;",
    b"&amp;",
    b"&#0;",
    b"&#x110000;",
    b"&#xD800;",
    b"&nbsp;",
    b"&unknown;",
    b"&#99999999999;",
    b"<item>",
    b"</item>",
    b"<entry>",
    b"</entry>",
    b"<title>",
    b"</title>",
    b"<link>",
    b"</link>",
    b"<description>",
    b"</description>",
    b"<content:encoded>",
    b"<author>",
    b"<dc:creator>",
    b"<pubDate>",
    b"Tue, 31 Feb 99999 25:61:61 +9999</pubDate>",
    b"<updated>0000-00-00T00:00:00Z</updated>",
    b'xmlns:a="',
    b'xml:base="javascript:alert(1)"',
    b'xml:lang="\x00"',
    b' href="\x01"',
    b"<a ",
    b"</",
    b'<?xml version="1.0" encoding="',
    b'"?>',
    b'<rss version="2.0">',
    b'<feed xmlns="http://www.w3.org/2005/Atom">',
    b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
    b'{"items": [{"id": ',
    b"]}",
    b"\\u0000",
]
ENCODING_NAMES = [
    b"utf\x00-8",
    b"\xff\xfe",
    b"utf-8\x80",
    b"\x00",
    b"utf-16\x00",
    b"x" * 300,
    b"",
    b"utf-32",
    b"ebcdic-cp-us",
    b"\xc3\xa9",
    b"gb2312",
    b"us-ascii",
    b"koi8-r",
    b"utf-7",
    b"../../etc/passwd",
]
CONTENT_TYPES = [
    None,
    "application/rss+xml",
    "application/atom+xml; charset=utf-8",
    "text/xml",
    "text/html; charset=utf-8",
    "application/json",
    "application/feed+json",
    "text/plain",
    "application/xml; charset=\x00",
    "text/xml; charset=\xff\xfe",
    "application/xml; charset=utf-16",
    "application/xml; charset=" + "a" * 500,
    "text/xml;;;charset",
    "\x00\x01",
    "",
]


def mutated(seed: int, index: int) -> tuple[str, bytes, str | None]:
    """(case name, document, content type) of one case."""
    rng = random.Random(seed * 1_000_003 + index)
    source = rng.choice(CORPUS)
    data = source.read_bytes()
    names = []
    for _ in range(rng.randint(1, 4)):
        name, data = MUTATIONS[rng.randrange(len(MUTATIONS))](rng, data)
        names.append(name)
        data = data[:MAX_SIZE]
    content_type = rng.choice(CONTENT_TYPES)
    return f"{seed}:{index}:{source.relative_to(REAL / 'feeds')}:{'+'.join(names)}", data, content_type


def _at(rng: random.Random, data: bytes) -> int:
    return rng.randint(0, len(data))


def flip(rng, data):
    out = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        if out:
            out[rng.randrange(len(out))] = rng.choice(
                [0, 0xFF, 0x3C, 0x3E, 0x26, 0x22, 0x3B, rng.randrange(256)]
            )
    return "flip", bytes(out)


def insert(rng, data):
    token = rng.choice(TOKENS)
    i = _at(rng, data)
    return "insert", data[:i] + token * rng.choice([1, 1, 2, 50, 1000]) + data[i:]


def delete(rng, data):
    i = _at(rng, data)
    return "delete", data[:i] + data[i + rng.randint(1, 4096) :]


def repeat(rng, data):
    i = _at(rng, data)
    piece = data[i : i + rng.randint(1, 200)]
    return "repeat", data[:i] + piece * rng.choice([2, 10, 300, 5000]) + data[i:]


def truncate(rng, data):
    return "truncate", data[: _at(rng, data)]


def encoding(rng, data):
    name = rng.choice(ENCODING_NAMES)
    declaration = b'<?xml version="1.0" encoding="' + name + b'"?>'
    if data.lstrip().startswith(b"<?xml"):
        end = data.find(b"?>")
        return "encoding", declaration + (data[end + 2 :] if end >= 0 else data)
    return "encoding", declaration + data


def reencode(rng, data):
    codec = rng.choice(["utf-16", "utf-16-be", "utf-32", "latin-1", "utf-7", "cp037"])
    text = data.decode("utf-8", "replace")
    bom = codecs.BOM_UTF16_LE if codec == "utf-16" and rng.random() < 0.3 else b""
    return f"reencode-{codec}", bom + text.encode(codec, "replace")


def splice(rng, data):
    other = rng.choice(CORPUS).read_bytes()
    return "splice", data[: _at(rng, data)] + other[rng.randint(0, len(other)) :]


def nest(rng, data):
    i = _at(rng, data)
    tag = rng.choice([b"<div>", b"<item>", b"<a>", b"<x:y>", b"<b", b"<entry><title>", b"<p><span>"])
    return "nest", data[:i] + tag * rng.choice([50, 500, 20_000]) + data[i:]


MUTATIONS = [flip, flip, insert, insert, delete, repeat, truncate, encoding, reencode, splice, nest]


@pytest.mark.timeout(900)
@pytest.mark.skipif(not CORPUS, reason="../shared/fixtures/real is not beside the repo")
def test_item07_parse_feed_raises_only_feed_error_under_fuzzing():
    assert len(CORPUS) > 200
    escaped, slow, outcomes = [], [], {"parsed": 0, "refused": 0}
    for index in range(CASES):
        name, data, content_type = mutated(SEED, index)
        started = time.process_time()
        try:
            result = parse_feed(data, url="https://example.org/feed", content_type=content_type)
        except FeedError:
            outcomes["refused"] += 1
        except Exception as exc:  # what the test is looking for
            escaped.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
        else:
            assert isinstance(result, ParsedFeed)
            outcomes["parsed"] += 1
        took = time.process_time() - started
        if took > BOUND:
            slow.append(f"{name}: {took:.1f} s")
    assert not escaped, f"{len(escaped)} of {CASES} cases raised other than FeedError:\n" + "\n".join(escaped)
    assert not slow, f"{len(slow)} of {CASES} cases took over {BOUND} s of CPU:\n" + "\n".join(slow)
    assert outcomes["parsed"] > CASES // 10 and outcomes["refused"] > CASES // 10, outcomes


@pytest.mark.parametrize(
    "declaration",
    [
        b'<?xml version="1.0" encoding="utf\x00-8"?>',
        b'<?xml version="1.0" encoding="\xff\xfe"?>',
        b'<?xml version="1.0" encoding="utf-8\x80"?>',
        b"<?xml version='1.0' encoding='\x00'?>",
    ],
    ids=["nul-inside", "bad-bytes", "trailing-bad-byte", "nul-only"],
)
@pytest.mark.parametrize("content_type", [None, "application/xml; charset=\x00", "text/xml; charset=\xff"])
def test_item07_bad_byte_or_nul_in_the_declared_encoding_is_read_or_refused(declaration, content_type):
    """The 3 fuzz cases of 2,100 the fault matrix found: feedparser raised
    ValueError/UnicodeDecodeError on these. The feed is read, with a warning."""
    data = (
        declaration
        + (
            '<rss version="2.0"><channel><title>Haberler</title><item><title>Şam'
            "</title><link>https://example.org/1</link></item></channel></rss>"
        ).encode()
    )
    feed = parse_feed(data, url="https://example.org/feed", content_type=content_type)
    assert feed.title == "Haberler" and feed.entries[0].title == "Şam"
    assert feed.warning and "encoding" in feed.warning


def test_item07_a_utf16_document_with_a_nul_in_its_encoding_name_is_a_feed_error():
    data = codecs.BOM_UTF16_LE + '<?xml version="1.0" encoding="utf-16\x00"?><rss version="2.0"/>'.encode(
        "utf-16-le"
    )
    with pytest.raises(FeedError, match="encoding"):
        parse_feed(data, url="https://example.org/feed")
