"""Deduplication benchmark: quality on real pages, speed and memory at scale.

    .venv/bin/python bench/dedup.py            # everything (about a minute)
    .venv/bin/python bench/dedup.py --quick    # 10k and 100k only

Quality: the 110 real news articles with gold text under
../shared/fixtures/real/html/scrapinghub, each turned into the copies the
issue names (another headline on top, another site's real navigation and
footer around it, 10 % of sentences dropped, the last fifth of the paragraphs
trimmed, a paragraph of another article added, and all of those at once).
Every copy should join its original; no two different articles should join
(6,000 pairs, among them several pairs of different reports of one event, and
the five Turkey-Syria defence articles in seeds/, all on one topic).

Speed: a FingerprintIndex holding N random fingerprints, timed per lookup; a
Stories.place() on a real SQLite store holding N articles.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from watcher.config import DedupConfig  # noqa: E402
from watcher.dedup import (
    identity,
    similarity,
)
from watcher.dedup.story import Stories  # noqa: E402
from watcher.store import articles  # noqa: E402
from watcher.store.database import Store  # noqa: E402

REAL = ROOT.parent / "shared" / "fixtures" / "real" / "html" / "scrapinghub"
SEEDS = ROOT / "seeds"
NOW = datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc)


# -- the corpus -----------------------------------------------------------------
class _PageText(HTMLParser):
    """Visible text lines of a page (for real boilerplate)."""

    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.lines: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style", "noscript", "svg")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "noscript", "svg") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        line = " ".join(data.split())
        if line and not self.skip:
            self.lines.append(line)


def load_gold() -> dict[str, str]:
    gold = json.loads((REAL / "ground-truth.json").read_text(encoding="utf-8"))
    return {key: row["articleBody"] for key, row in sorted(gold.items())}


def boilerplate(key: str, body: str, lines: int) -> tuple[list[str], list[str]]:
    """The first and last ``lines`` text lines of a real page outside its article."""
    parser = _PageText()
    parser.feed(gzip.decompress((REAL / f"{key}.html.gz").read_bytes()).decode("utf-8", "replace"))
    rest = [line for line in parser.lines if not (len(line) > 40 and line in body)]
    return rest[:lines], rest[-lines:]


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?。])\s+", text) if s.strip()]


def paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n") if p.strip()]


def drop_sentences(text: str, share: float, rnd: random.Random) -> str:
    found = sentences(text)
    gone = set(rnd.sample(range(len(found)), max(1, round(len(found) * share)))) if len(found) > 1 else set()
    return " ".join(s for i, s in enumerate(found) if i not in gone)


def add_paragraph(text: str, other: str, rnd: random.Random) -> str:
    mine = paragraphs(text)
    theirs = [p for p in paragraphs(other) if len(p.split()) > 20] or paragraphs(other)
    at = rnd.randrange(len(mine) + 1)
    return "\n".join(mine[:at] + [rnd.choice(theirs)] + mine[at:])


def trim(text: str) -> str:
    mine = paragraphs(text)
    cut = max(1, len(mine) // 5) if len(mine) > 2 else 0
    return "\n".join(mine[: len(mine) - cut]) if cut else text


def wrap(text: str, page_key: str, bodies: dict[str, str], lines: int) -> str:
    head, foot = boilerplate(page_key, bodies[page_key], lines)
    return "\n".join(head + [text] + foot)


def variants(bodies: dict[str, str], seed: int = 4) -> list[tuple[str, str, str]]:
    """(original key, kind, text) for every article and kind of copy."""
    rnd = random.Random(seed)
    keys = list(bodies)
    out = []
    for i, key in enumerate(keys):
        text, other = bodies[key], keys[(i + 7) % len(keys)]
        headline = sentences(bodies[other])[0]
        out += [
            (key, "headline", f"{headline}\n{text}"),
            (key, "boilerplate", wrap(text, other, bodies, 8)),
            (key, "drop 10%", drop_sentences(text, 0.10, rnd)),
            (key, "trimmed", trim(text)),
            (key, "paragraph added", add_paragraph(text, bodies[other], rnd)),
            (
                key,
                "all at once",
                wrap(
                    add_paragraph(drop_sentences(f"{headline}\n{text}", 0.10, rnd), bodies[other], rnd),
                    other,
                    bodies,
                    8,
                ),
            ),
        ]
    return out


# -- quality --------------------------------------------------------------------
def pct(values: list, p: float):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def quality(bodies: dict[str, str]) -> None:
    seeds = {p.name: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}
    fps = {k: similarity.fingerprint(t) for k, t in {**bodies, **seeds}.items()}
    sets = {k: similarity.shingle_set(t) for k, t in {**bodies, **seeds}.items()}
    copies = [
        (k, kind, similarity.fingerprint(t), similarity.shingle_set(t)) for k, kind, t in variants(bodies)
    ]
    pos = [
        (kind, similarity.distance(fps[k], f), similarity.resemblance(sets[k], s))
        for k, kind, f, s in copies
        if f is not None and fps[k] is not None
    ]
    keys = [k for k in bodies if fps[k] is not None]
    neg = [
        (similarity.distance(fps[a], fps[b]), similarity.resemblance(sets[a], sets[b]), a, b)
        for i, a in enumerate(keys)
        for b in keys[i + 1 :]
    ]
    seed_keys = [k for k in seeds if fps[k] is not None]
    same_topic = [
        (similarity.distance(fps[a], fps[b]), similarity.resemblance(sets[a], sets[b]))
        for i, a in enumerate(seed_keys)
        for b in seed_keys[i + 1 :]
    ]
    short = [k for k in bodies if fps[k] is None]
    print(
        f"corpus: {len(bodies)} real articles ({len(short)} under {identity.MIN_WORDS} words,"
        f" skipped), {len(pos)} copies, {len(neg)} pairs of different articles,"
        f" {len(same_topic)} same-topic pairs (seeds/)"
    )
    print("\nSimHash distance (bits of 64) and word-3-gram resemblance:")
    print(f"  {'':18} {'dist p50':>8} {'p95':>4} {'max':>4} {'resem p5':>9} {'min':>5}")
    for kind in dict.fromkeys(k for k, _, _ in pos):
        ds = [d for k, d, _ in pos if k == kind]
        rs = [r for k, _, r in pos if k == kind]
        print(
            f"  {kind:18} {statistics.median(ds):8.0f} {pct(ds, 0.95):4d} {max(ds):4d}"
            f" {pct(rs, 0.05):9.2f} {min(rs):5.2f}"
        )
    nd = [d for d, _, _, _ in neg]
    print(
        f"  different articles: distance min {min(nd)}, p1 {pct(nd, 0.01)}, median"
        f" {statistics.median(nd):.0f}; resemblance max {max(r for _, r, _, _ in neg):.3f}"
    )
    print(
        f"  same topic (seeds): distance min {min(d for d, _ in same_topic)}, resemblance max"
        f" {max(r for _, r in same_topic):.3f}"
    )
    closest = sorted(neg, key=lambda n: -n[1])[:3]
    print(
        "  most alike different articles (resemblance, distance):",
        ", ".join(f"{r:.3f}/{d}" for d, r, _, _ in closest),
    )
    print("\nJoin decision on these pairs: recall over copies / false joins over different pairs")
    print(f"  {'max_distance':>12} {'min_resemblance':>15} {'recall':>7} {'false':>6}   SimHash alone: false")
    for radius in (8, 10, 12, 14, 16, 18, 20, 22):
        for floor in (0.3, 0.4, 0.5):
            hits = sum(1 for _, d, r in pos if d <= radius and r >= floor)
            false = sum(1 for d, r, _, _ in neg if d <= radius and r >= floor)
            false += sum(1 for d, r in same_topic if d <= radius and r >= floor)
            alone = sum(1 for d, _, _, _ in neg if d <= radius) + sum(1 for d, _ in same_topic if d <= radius)
            mark = (
                "  <- default"
                if (radius, floor) == (DedupConfig().max_distance, DedupConfig().min_resemblance)
                else ""
            )
            print(f"  {radius:12d} {floor:15.1f} {hits / len(pos):7.1%} {false:6d}   {alone:6d}{mark}")
    by_kind = {}
    cfg = DedupConfig()
    for kind, d, r in pos:
        by_kind.setdefault(kind, []).append(d <= cfg.max_distance and r >= cfg.min_resemblance)
    print(
        "  recall by kind at the defaults:",
        ", ".join(f"{k} {sum(v) / len(v):.1%}" for k, v in by_kind.items()),
    )


def stories_quality(bodies: dict[str, str]) -> None:
    """The same, end to end through Stories.place()/attach() on a real store."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "w.db")
        stories = Stories(store, DedupConfig(), clock=lambda: NOW)
        store.db["feeds"].insert(
            {"url": "http://127.0.0.1/feed", "name": "bench", "created_at": NOW.isoformat()}
        )
        story_of, false_joins, t = {}, 0, NOW - timedelta(days=1)
        for i, (key, text) in enumerate(bodies.items()):
            t += timedelta(seconds=30)
            placement, story, _ = _store(store, stories, f"http://127.0.0.1/a/{i}", text, t)
            story_of[key] = story
            false_joins += placement.story_id is not None
        joined, total, times = 0, 0, []
        for j, (key, kind, text) in enumerate(variants(bodies)):
            t += timedelta(seconds=30)
            if similarity.fingerprint(text) is None:
                continue
            placement, story, spent = _store(store, stories, f"http://127.0.0.1/copy/{j}", text, t)
            times.append(spent)
            total += 1
            joined += story == story_of[key]
        print(
            f"\nStories end to end: {len(bodies)} originals stored -> {false_joins} false joins;"
            f" {joined}/{total} copies joined their original's story ({joined / total:.1%});"
            f" place+attach median {statistics.median(times) * 1e3:.2f} ms"
        )
        store.close()


def extracted_vs_gold(bodies: dict[str, str]) -> None:
    """Each real page through the watcher's extractor (its real navigation,
    captions and links around the article) against the clean gold text: the
    same article as two different outlets' pages would give it. Then the
    extracted texts against each other: different articles, 24 pairs of them
    from one site (where leftover site furniture could make them alike)."""
    from urllib.parse import urlsplit

    from watcher.extract.extractor import ExtractionError, Extractor

    gold = json.loads((REAL / "ground-truth.json").read_text(encoding="utf-8"))
    cfg, extracted = DedupConfig(), {}
    with Extractor() as extractor:
        for key in bodies:
            page = gzip.decompress((REAL / f"{key}.html.gz").read_bytes())
            try:
                extracted[key] = extractor.extract(page, url=gold[key]["url"]).text
            except ExtractionError:
                extracted[key] = ""
        for path in sorted((REAL.parent / "trafilatura").glob("*.html")):  # 39 more real pages
            try:
                extracted[path.name] = extractor.extract(path.read_bytes(), url=f"https://{path.stem}/").text
            except ExtractionError:
                extracted[path.name] = ""
    fps = {k: similarity.fingerprint(t) for k, t in extracted.items()}
    sets = {k: similarity.shingle_set(t) for k, t in extracted.items()}

    def joins(fa, fb, sa, sb):
        return (
            fa is not None
            and fb is not None
            and similarity.distance(fa, fb) <= cfg.max_distance
            and similarity.resemblance(sa, sb) >= cfg.min_resemblance
        )

    joined = sum(
        joins(similarity.fingerprint(bodies[k]), fps[k], similarity.shingle_set(bodies[k]), sets[k])
        for k in bodies
    )
    keys = list(extracted)
    pairs = [(a, b) for i, a in enumerate(keys) for b in keys[i + 1 :]]
    false = sum(joins(fps[a], fps[b], sets[a], sets[b]) for a, b in pairs)
    host = {k: urlsplit(gold[k]["url"]).hostname if k in gold else k for k in keys}
    same_site = [similarity.resemblance(sets[a], sets[b]) for a, b in pairs if host[a] == host[b]]
    print(
        f"\nReal pages through the extractor: {joined}/{len(bodies)} join their gold text"
        f" ({joined / len(bodies):.1%}); among the {len(pairs)} pairs of {len(keys)} different"
        f" extracted pages {false} join; {len(same_site)} same-site pairs, resemblance max {max(same_site):.3f}"
    )


def _store(store, stories, url, text, now):
    """Store one article as the pipeline does; returns (placement, story id,
    seconds spent in place() and attach())."""
    canonical = identity.canonical_url(url)
    chash, fp = identity.content_hash(text), similarity.fingerprint(text)
    with store.atomic():
        start = time.perf_counter()
        placement = stories.place(
            canonical_url=canonical, content_hash=chash, fingerprint=fp, now=now, text=text
        )
        spent = time.perf_counter() - start
        article = articles.insert(
            store,
            feed_id=1,
            url=url,
            canonical_url=canonical,
            guid=None,
            title=None,
            author=None,
            published=None,
            fetched_at=now.isoformat(),
            language=None,
            summary=None,
            text=text,
            extraction="full",
            extraction_error=None,
            content_hash=chash,
            simhash=fp,
            matched=False,
        )
        start = time.perf_counter()
        story = stories.attach(article, placement, title=url, now=now)
        spent += time.perf_counter() - start
    return placement, story, spent


# -- speed and memory -------------------------------------------------------------
def index_speed(sizes: list[int]) -> None:
    import numpy as np  # bench only; the watcher imports numpy in similarity.py alone

    print(
        "\nFingerprintIndex lookup (all fingerprints inside the window; radius"
        f" {DedupConfig().max_distance}):"
    )
    rng = np.random.default_rng(1)
    for n in sizes:
        index = similarity.FingerprintIndex()
        fps = rng.integers(-(2**63), 2**63 - 1, size=n, dtype=np.int64)
        index.extend(np.arange(1, n + 1), fps, np.full(n, NOW.timestamp()))
        planted = int(fps[n // 2]) ^ 0b101101  # a copy 4 bits away
        times, found = [], 0
        for i in range(400):
            probe = planted if i % 2 else int(rng.integers(-(2**63), 2**63 - 1))
            start = time.perf_counter()
            hits = index.near(probe, max_distance=DedupConfig().max_distance, since=0.0)
            times.append(time.perf_counter() - start)
            found += bool(i % 2) and any(a == n // 2 + 1 for a, _ in hits)
        print(
            f"  {n:>9,} fingerprints: median {statistics.median(times) * 1e3:.3f} ms,"
            f" p99 {pct(times, 0.99) * 1e3:.3f} ms, memory {index.nbytes / 2**20:.1f} MB"
            f" (arrays+scan buffers), planted copy found {found}/200"
        )
    n = sizes[-1]
    spread = index_over_days(n, days=180)
    since = (NOW - timedelta(days=DedupConfig().window_days)).timestamp()
    times = []
    for _ in range(400):
        start = time.perf_counter()
        spread.near(
            int(rng.integers(-(2**63), 2**63 - 1)), max_distance=DedupConfig().max_distance, since=since
        )
        times.append(time.perf_counter() - start)
    print(
        f"  {n:>9,} fingerprints over 180 days, {DedupConfig().window_days:g}-day window:"
        f" median {statistics.median(times) * 1e3:.3f} ms, p99 {pct(times, 0.99) * 1e3:.3f} ms"
        " (Stories loads only the window, so its index is that much smaller too)"
    )


def index_over_days(n: int, days: int) -> similarity.FingerprintIndex:
    import numpy as np

    rng = np.random.default_rng(3)
    index = similarity.FingerprintIndex()
    start = (NOW - timedelta(days=days)).timestamp()
    index.extend(
        np.arange(1, n + 1),
        rng.integers(-(2**63), 2**63 - 1, size=n, dtype=np.int64),
        np.linspace(start, NOW.timestamp(), n),
    )
    return index


def place_speed(sizes: list[int], bodies: dict[str, str]) -> None:
    """Stories.place() on a store of n articles (real texts, random fingerprints, so
    each lookup finds about n * P(distance <= radius) random candidates to check)."""
    import numpy as np

    print("\nStories.place() on a SQLite store (first call loads the index):")
    rng = np.random.default_rng(2)
    texts = list(bodies.values())
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store.open(Path(tmp) / "w.db")
            store.db["feeds"].insert(
                {"url": "http://127.0.0.1/f", "name": "f", "created_at": NOW.isoformat()}
            )
            stamp = (NOW - timedelta(hours=1)).isoformat()
            fps = rng.integers(-(2**63), 2**63 - 1, size=n, dtype=np.int64).tolist()
            with store.atomic():
                store.db["stories"].insert(
                    {"id": 1, "first_article_id": 1, "created_at": stamp, "updated_at": stamp}
                )
                store.db.execute("DROP TRIGGER IF EXISTS articles_ai")  # no FTS for filler rows
                store.db.conn.executemany(
                    "INSERT INTO articles (id, feed_id, url, canonical_url, fetched_at, updated_at,"
                    " text, extraction, simhash, story_id) VALUES (?, 1, ?, ?, ?, ?, ?, 'full', ?, 1)",
                    (
                        (i + 1, f"u{i}", f"u{i}", stamp, stamp, texts[i % len(texts)], fps[i])
                        for i in range(n)
                    ),
                )
            stories = Stories(store, DedupConfig(), clock=lambda: NOW)
            start = time.perf_counter()
            stories.place(canonical_url="x", content_hash=None, fingerprint=1, now=NOW, text=texts[0])
            load = time.perf_counter() - start
            times = []
            for i in range(200):
                text = texts[i % len(texts)]
                chash, fp = identity.content_hash(text), similarity.fingerprint(text)
                start = time.perf_counter()
                stories.place(canonical_url=f"new{i}", content_hash=chash, fingerprint=fp, now=NOW, text=text)
                times.append(time.perf_counter() - start)
            print(
                f"  {n:>9,} articles: index load {load:.2f} s; place() median"
                f" {statistics.median(times) * 1e3:.2f} ms, p99 {pct(times, 0.99) * 1e3:.2f} ms"
                f" (URL + hash lookups, scan, text checks of up to 8 candidates)"
            )
            store.close()


def fingerprint_speed(bodies: dict[str, str]) -> None:
    times = []
    for text in bodies.values():
        start = time.perf_counter()
        similarity.fingerprint(text)
        identity.content_hash(text)
        times.append(time.perf_counter() - start)
    words = statistics.median(len(t.split()) for t in bodies.values())
    print(
        f"\nfingerprint()+content_hash() per article: median {statistics.median(times) * 1e3:.2f} ms"
        f" (median article {words:.0f} words), max {max(times) * 1e3:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1,000,000 runs")
    args = parser.parse_args()
    bodies = load_gold()
    identity.normal_words("warm up: Türkiye")  # builds the diacritics table once
    quality(bodies)
    stories_quality(bodies)
    extracted_vs_gold(bodies)
    fingerprint_speed(bodies)
    sizes = [10_000, 100_000] + ([] if args.quick else [1_000_000])
    index_speed(sizes)
    place_speed(sizes[:2], bodies)


if __name__ == "__main__":
    main()
