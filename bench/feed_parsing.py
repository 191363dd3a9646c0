"""Feed parsing speed: the real fixture feeds, and hostile documents that the
guards (entry cap, markup budget, DOCTYPE defusing) must keep cheap.

    .venv/bin/python bench/feed_parsing.py [--repeat 5]

Prints medians over the repeats, and ratios that should stay near 1 whatever
the machine: a 100,000-item feed against a 500-item one (the entry cap), a
hostile document against the largest real feed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEEDS = ROOT.parent / "shared" / "fixtures" / "real" / "feeds"


def rss(items: bytes, prologue: bytes = b"") -> bytes:
    return (
        b'<?xml version="1.0" encoding="utf-8"?>'
        + prologue
        + b'<rss version="2.0"><channel><title>t</title>'
        + items
        + b"</channel></rss>"
    )


def items(count: int) -> bytes:
    return b"".join(
        b"<item><title>n%d</title><link>https://example.org/%d</link>"
        b"<description>&lt;p&gt;Some &lt;b&gt;text&lt;/b&gt; %d&lt;/p&gt;</description></item>" % (i, i, i)
        for i in range(count)
    )


HOSTILE = {
    "500 items": rss(items(500)),
    "100,000 items": rss(items(100_000)),
    "4 MB of '<a'": rss(
        b"<item><title>x</title><description>" + b"<a" * 2_000_000 + b"</description></item>"
    ),
    "quadratic entity (50,000 refs)": rss(
        b"<item><title>q</title><description>" + b"&a;" * 50_000 + b"</description></item>",
        b'<!DOCTYPE rss [<!ENTITY a "' + b"B" * 100_000 + b'">]>',
    ),
}


def median_seconds(parse, data: bytes, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            parse(data, url="https://example.org/feed")
        except Exception as exc:
            if type(exc).__name__ != "FeedError":
                raise
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    args = argparse.ArgumentParser()
    args.add_argument("--repeat", type=int, default=5)
    repeat = args.parse_args().repeat
    sys.path.insert(0, str(ROOT))
    from watcher.parse.feed import parse_feed

    files = sorted(p for p in FEEDS.rglob("*") if p.is_file())
    per_file = {p: median_seconds(parse_feed, p.read_bytes(), repeat) for p in files}
    print(
        f"real feeds: {len(files)} files, {sum(per_file.values()):.2f} s for all (medians of {repeat}), "
        f"median file {statistics.median(per_file.values()) * 1000:.1f} ms"
    )
    for path, seconds in sorted(per_file.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {seconds * 1000:8.1f} ms  {path.stat().st_size / 1e6:5.2f} MB  {path.relative_to(FEEDS)}")
    largest = max(files, key=lambda p: p.stat().st_size)
    base = per_file[largest]
    hostile = {name: median_seconds(parse_feed, data, repeat) for name, data in HOSTILE.items()}
    for name, seconds in hostile.items():
        print(
            f"  {seconds * 1000:8.1f} ms  {len(HOSTILE[name]) / 1e6:5.2f} MB  {name}  "
            f"(x{seconds / base:.2f} the largest real feed)"
        )
    print(f"ratio 100,000 items / 500 items: {hostile['100,000 items'] / hostile['500 items']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
