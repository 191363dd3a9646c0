"""Parse time of the sources-beyond-RSS parsers on their real fixtures, and on hostile input.

    .venv/bin/python bench/sources_parsing.py [--repeat 15]

Prints the median time of one parse per fixture (tests/data/sources/, the real
pages under ../shared/fixtures/real/) and of the bounded hostile cases (a sitemap
of a million URLs, a 10 MB page of links, outlines 10,000 deep).
Not a test: figures vary with the machine; compare between runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from watcher.dedup.unwrap import unwrap  # noqa: E402
from watcher.match.patterns import pattern_problem  # noqa: E402
from watcher.parse.discovery import discover  # noqa: E402
from watcher.parse.feed import parse_feed  # noqa: E402
from watcher.parse.links import LinkRule, compile_pattern, index_links  # noqa: E402
from watcher.parse.opml import read_opml, write_opml  # noqa: E402
from watcher.parse.sitemap import parse_sitemap  # noqa: E402
from watcher.parse.telegram import parse_preview  # noqa: E402

DATA = ROOT / "tests" / "data" / "sources"
REAL = ROOT.parent / "shared" / "fixtures" / "real" / "html" / "trafilatura"


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    repeat = parser.parse_args().repeat
    from datetime import UTC, datetime

    def read(path: Path) -> bytes:
        return path.read_bytes()

    xcareers = read(DATA / "telegram" / "xcareers.html")
    tchan = read(DATA / "telegram" / "tchantest_assembled.html")
    nyt = read(DATA / "sitemap" / "nytimes_news_sitemap.xml")
    news = read(DATA / "google" / "google_news_top_stories.xml")
    alerts = read(DATA / "google" / "google_alerts_atom.xml")
    opml = read(DATA / "opml" / "donthypeme_feeds.opml")
    bbc = read(REAL / "bbc.com.52241221.html")
    heise = read(REAL / "heise.de.lithium.html")
    news_links = [e.url for e in parse_feed(news, url="https://news.google.com/rss").entries]
    alert_links = [e.url for e in parse_feed(alerts, url="https://www.google.com/alerts/feeds/1/2").entries]
    doc = read_opml(opml)
    million = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + b"".join(b"<url><loc>https://big.example/a/%d</loc></url>" % i for i in range(1_000_000))
        + b"</urlset>"
    )
    links = (
        b"<html><body>"
        + b"".join(b'<a href="/a/%d">link %d</a>\n' % (i, i) for i in range(400_000))
        + b"</body></html>"
    )
    deep = (
        b'<opml version="2.0"><body>'
        + b'<outline text="f">' * 10_000
        + b'<outline text="x" xmlUrl="https://e.example/f"/>'
        + b"</outline>" * 10_000
        + b"</body></opml>"
    )
    cases: list[tuple[str, Callable[[], object]]] = [
        (
            f"telegram xcareers.html ({len(xcareers) // 1024} KB, 20 posts)",
            lambda: parse_preview(xcareers, channel="xCareers"),
        ),
        (
            f"telegram tchantest_assembled.html ({len(tchan) // 1024} KB, 28 blocks)",
            lambda: parse_preview(tchan, channel="tchantest"),
        ),
        (
            f"sitemap nytimes news ({len(nyt) // 1024} KB, 343 URLs)",
            lambda: parse_sitemap(nyt, url="https://www.nytimes.com/sitemap_news.xml"),
        ),
        ("opml donthypeme (78 feeds) read", lambda: read_opml(opml)),
        (
            "opml donthypeme (78 feeds) write",
            lambda: write_opml(doc.feeds, title="t", now=datetime.now(UTC)),
        ),
        (
            "index page bbc (links by pattern)",
            lambda: index_links(
                bbc,
                url="https://www.bbc.com/news/x",
                rule=LinkRule(pattern=compile_pattern(r"/news/[a-z_-]+-\d+$", problem=pattern_problem)),
            ),
        ),
        (
            "discovery heise page",
            lambda: discover(heise, url="https://www.heise.de/news/x.html"),
        ),
        ("unwrap 38 Google News links", lambda: [unwrap(u) for u in news_links]),
        ("unwrap 20 Google Alerts links", lambda: [unwrap(u) for u in alert_links]),
        (
            f"hostile: sitemap of 1,000,000 URLs ({len(million) // 2**20} MB)",
            lambda: parse_sitemap(million, url="https://big.example/s.xml"),
        ),
        (
            f"hostile: page of 400,000 links ({len(links) // 2**20} MB)",
            lambda: index_links(links, url="https://big.example/", rule=LinkRule()),
        ),
        ("hostile: outlines 10,000 deep", lambda: read_opml(deep)),
    ]
    for name, fn in cases:
        runs = repeat if "hostile" not in name else max(3, repeat // 5)
        print(f"{median_ms(fn, runs):10.2f} ms  {name}")


if __name__ == "__main__":
    main()
