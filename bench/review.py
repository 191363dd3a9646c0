"""How the review queries scale with months of log.

    .venv/bin/python bench/review.py [--articles 50000] [--repeat 15]

Builds a synthetic database (seed texts shuffled into N articles over 180
days, 10% matched, stories of 1-4 outlets, alerts and feedback), then prints
medians of: `log` (first page, and filtered by rule), `show`, FTS search
(common and rare word), rule stats, status, the stories web page (over HTTP),
export throughput, a backtest (articles/s) and one prune pass.
Not a test: figures vary with the machine; compare between runs.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from watcher.match.matcher import Matcher  # noqa: E402
from watcher.match.rules import load_rules  # noqa: E402
from watcher.review import backtest, export  # noqa: E402
from watcher.review.article import show  # noqa: E402
from watcher.review.log import Filter, matched_stories, parse_since  # noqa: E402
from watcher.review.retention import prune  # noqa: E402
from watcher.review.search import search  # noqa: E402
from watcher.review.stats import rule_stats  # noqa: E402
from watcher.review.status import status  # noqa: E402
from watcher.store import searchindex  # noqa: E402
from watcher.store.database import Store  # noqa: E402
from watcher.web import server as web  # noqa: E402

NOW = datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc)
PHRASE = '"joint training"'
RULES = ("tr-sy-defence", "drones", "training", "navy", "border")


def build(path: Path, n: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    words = " ".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))).split()
    store = Store.open(path)
    with store.atomic():
        store.db["feeds"].insert_all(
            {
                "id": i,
                "url": f"https://feed{i}.example/rss",
                "name": f"Outlet {i}",
                "created_at": NOW.isoformat(),
                "last_polled": NOW.isoformat(),
            }
            for i in range(1, 41)
        )
    story, batch = 0, []
    for i in range(1, n + 1):
        fetched = NOW - timedelta(seconds=rnd.uniform(0, 180 * 86400))
        text = " ".join(rnd.choice(words) for _ in range(rnd.randint(150, 700)))
        matched = rnd.random() < 0.10
        if matched or rnd.random() < 0.3:
            story += 1
        batch.append(
            {
                "id": i,
                "feed_id": rnd.randint(1, 40),
                "url": f"https://x.example/{i}",
                "canonical_url": f"https://x.example/{i}",
                "title": " ".join(text.split()[:9]),
                "fetched_at": fetched.isoformat(),
                "updated_at": fetched.isoformat(),
                "text": text,
                "extraction": "full",
                "matched": int(matched),
                "story_id": story,
            }
        )
        if len(batch) == 1000 or i == n:
            _flush(store, batch, rnd)
            batch = []
    store.close()


def _flush(store: Store, batch: list[dict], rnd: random.Random) -> None:
    db = store.db  # filler rows, written in bulk
    with store.atomic():
        db["stories"].insert_all(
            (
                {
                    "id": a["story_id"],
                    "first_article_id": a["id"],
                    "title": a["title"],
                    "created_at": a["fetched_at"],
                    "updated_at": a["fetched_at"],
                }
                for a in batch
            ),
            ignore=True,
        )
        db["articles"].insert_all(batch)
        for a in (a for a in batch if a["matched"]):
            for rule in rnd.sample(RULES, rnd.randint(1, 2)):
                hits = [
                    {"term": "Syria", "entity": "syria", "field": "text", "start": 0, "end": 5, "snippet": ""}
                ]
                db["matches"].insert(
                    {
                        "article_id": a["id"],
                        "rule_id": rule,
                        "rule_title": rule,
                        "severity": rnd.choice(("low", "medium", "high")),
                        "score": 2.0,
                        "hits": json.dumps(hits),
                        "matched_at": a["fetched_at"],
                    }
                )
            db["alerts"].insert(
                {
                    "idempotency_key": f"k{a['id']}",
                    "story_id": a["story_id"],
                    "article_id": a["id"],
                    "channel": "ops",
                    "status": "sent",
                    "next_attempt_at": a["fetched_at"],
                    "created_at": a["fetched_at"],
                }
            )
            if rnd.random() < 0.2:
                db["feedback"].insert(
                    {
                        "article_id": a["id"],
                        "verdict": rnd.choice(("relevant", "irrelevant")),
                        "created_at": a["fetched_at"],
                    }
                )


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        t = time.perf_counter()
        build(path, args.articles)
        print(
            f"built {args.articles} articles in {time.perf_counter() - t:.1f}s, "
            f"{path.stat().st_size / 1e6:.0f} MB"
        )
        store = Store.open(path)
        t = time.perf_counter()
        with store.atomic():  # what migration 4 does on a database of that size
            searchindex.create(store.db)
        print(f"search index back-fill       {args.articles / (time.perf_counter() - t):8.0f} articles/s")
        print(f"  database with both FTS indexes: {path.stat().st_size / 1e6:.0f} MB")
        r = args.repeat
        since = parse_since("7d", NOW)
        print(
            f"log, first 50 stories        {median_ms(lambda: matched_stories(store, Filter()), r):8.1f} ms"
        )
        print(
            f"log --rule drones --since 7d {median_ms(lambda: matched_stories(store, Filter(rule='drones', since=since)), r):8.1f} ms"
        )
        print(f"show one article             {median_ms(lambda: show(store, args.articles // 2), r):8.1f} ms")
        print(f"search common word           {median_ms(lambda: search(store, 'Syrian'), r):8.1f} ms")
        print(f"search two rare words        {median_ms(lambda: search(store, 'Kasra barracks'), r):8.1f} ms")
        print(f"search folded rare word      {median_ms(lambda: search(store, 'gurak'), r):8.1f} ms")
        print(f"search phrase                {median_ms(lambda: search(store, PHRASE), r):8.1f} ms")
        print(
            f"search common word, 500 hits {median_ms(lambda: search(store, 'Syrian', limit=500), 3):8.1f} ms"
        )
        print(f"rules stats                  {median_ms(lambda: rule_stats(store), r):8.1f} ms")
        print(
            f"status                       {median_ms(lambda: status(store, datetime.now(timezone.utc)), r):8.1f} ms"
        )
        server = web.WebServer(web.WebSettings(database=path, port=0), clock=lambda: NOW)
        url = server.start()
        import httpx

        with httpx.Client() as client:
            print(
                f"web stories page (HTTP)      {median_ms(lambda: client.get(url + '/').raise_for_status(), r):8.1f} ms"
            )
            print(
                f"web article page (HTTP)      {median_ms(lambda: client.get(url + f'/article/{args.articles // 2}').raise_for_status(), r):8.1f} ms"
            )
        server.stop()
        t = time.perf_counter()
        n = export.write("jsonl", export.records(store), io.StringIO())
        print(f"export jsonl                 {n / (time.perf_counter() - t):8.0f} articles/s")
        matcher = Matcher(load_rules([ROOT / "rules"]))
        t = time.perf_counter()
        report = backtest.run(store, matcher, since=parse_since("7d", NOW))
        print(
            f"backtest (7 days)            {report.articles / (time.perf_counter() - t):8.0f} articles/s "
            f"({report.articles} articles)"
        )
        t = time.perf_counter()
        pruned = prune(store, 90, NOW)
        print(
            f"prune keep_days=90           {(time.perf_counter() - t) * 1000:8.0f} ms "
            f"({pruned.articles} articles, {pruned.stories} stories deleted)"
        )
        store.close()


if __name__ == "__main__":
    main()
