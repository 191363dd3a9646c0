"""Pipeline throughput against a local server: feeds polled per second and
articles extracted per second, with peak memory.

    .venv/bin/python bench/pipeline.py [--feeds 40] [--entries 20] [--pages 40] [--repeat 3] [--per-host 2]

Three scenarios, each run --repeat times on a fresh database (medians):
  1. feeds-only: N feeds of M entries each, fetch_article = false
     (fetch + parse + match + dedup + store of summaries);
  2. revisit: the same feeds polled again, all answering 304;
  3. full text: P real news pages behind one feed, fetched and extracted.
Every feed lives on the one loopback host, so ``[network] per_host`` (default 2)
bounds how many are polled at once; ``--per-host 4`` lets all four workers run.
Not a test: figures vary with the machine; compare ratios between runs.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from datetime import datetime, timezone  # noqa: E402

from httpserver import LoopbackServer  # noqa: E402
from newsroom import Newsroom, write_config  # noqa: E402

from watcher import app, pipeline  # noqa: E402
from watcher import config as config_mod  # noqa: E402
from watcher.match.rules import load_rules  # noqa: E402
from watcher.store.database import Store  # noqa: E402


def clock() -> datetime:
    return datetime.now(timezone.utc)


def run(config_path: Path) -> tuple[float, pipeline.RunSummary]:
    config = config_mod.load(config_path)
    parts = app.build_parts(config, clock, load_rules(list(config.rules)))
    store = Store.open(config.database)
    try:
        started = time.perf_counter()
        summary = pipeline.run_once(parts, store, lambda: Store.open(config.database))
        return time.perf_counter() - started, summary
    finally:
        parts.client.close()
        parts.extractor.close()
        store.close()


PER_HOST = ["per_host = 2"]


def feeds_scenario(server: LoopbackServer, feeds: int, entries: int, tmp: Path) -> Path:
    urls = []
    for f in range(feeds):
        room = Newsroom(server)
        for e in range(entries):
            room.add(
                f"/f{f}/e{e}.html",
                f"Report {f}-{e} on regional affairs",
                b"<html></html>",
                summary=f"Summary of report {f}-{e}: ministers met in Ankara to discuss trade.",
            )
        urls.append((f"Feed {f}", room.publish(f"/f{f}/feed.xml", f"Feed {f}")))
    return write_config(tmp, urls, fetch_article=False, network=PER_HOST[0])


def pages_scenario(server: LoopbackServer, pages: int, tmp: Path) -> Path:
    room = Newsroom(server)
    room.add_seed_articles()
    room.add_real_pages(max(0, pages - 5))
    return write_config(tmp, [("Pages", room.publish("/pages.xml"))], network=PER_HOST[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=40)
    ap.add_argument("--entries", type=int, default=20)
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--per-host", type=int, default=2, help="[network] per_host (all feeds share one host)")
    args = ap.parse_args()
    PER_HOST[0] = f"per_host = {args.per_host}"
    first, revisit, extract = [], [], []
    with LoopbackServer() as server:
        for i in range(args.repeat):
            with tempfile.TemporaryDirectory() as d:
                cfg = feeds_scenario(server, args.feeds, args.entries, Path(d))
                seconds, summary = run(cfg)
                assert summary.articles_stored == args.feeds * args.entries, summary
                first.append(args.feeds / seconds)
                seconds, summary = run(cfg)
                assert summary.entries_new == 0
                revisit.append(args.feeds / seconds)
            with tempfile.TemporaryDirectory() as d:
                cfg = pages_scenario(server, args.pages, Path(d))
                seconds, summary = run(cfg)
                extract.append(summary.articles_stored / seconds)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"feeds polled/s, new entries ({args.feeds} feeds x {args.entries} entries, summaries): "
        f"median {statistics.median(first):.1f}  (runs: {', '.join(f'{x:.1f}' for x in first)})"
    )
    print(
        f"feeds polled/s, unchanged (304):  median {statistics.median(revisit):.1f}  "
        f"(runs: {', '.join(f'{x:.1f}' for x in revisit)})"
    )
    print(
        f"articles fetched+extracted/s ({args.pages} real pages): median {statistics.median(extract):.2f}  "
        f"(runs: {', '.join(f'{x:.2f}' for x in extract)})"
    )
    print(f"peak RSS: watcher process {own:.0f} MB, extraction worker {children:.0f} MB")


if __name__ == "__main__":
    main()
