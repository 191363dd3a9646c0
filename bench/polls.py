"""CPU per entry of a first poll, and per feed of a second (all 304), next
to the bare building blocks doing the same work in the same run.

    .venv/bin/python bench/polls.py [--feeds 200] [--repeat 3] [--profile first|second] [--source DIR]

The newsroom: ``--feeds`` feeds cut from real captured feeds
(../shared/fixtures/real/feeds: The Guardian, heise, reddit, Feedburner,
craigslist, ...; at most 20 items each, every link and id made unique per
feed so that every entry is new), served with ETag and Last-Modified by the
loopback server in a process of its own (its CPU is not counted).

1. first poll: ``watcher run --once`` over every feed, summaries only
   (``fetch_article = false``): fetch + parse + match (the default rule pack)
   + dedup + search index + store. CPU of this process (all threads) per new
   entry.
2. second poll: the same feeds again, every one answering 304. CPU per feed.

Bare blocks, on the same feeds in the same process, one thread:
  * httpx GET + feedparser (sanitising and URI resolution off) + one SQLite
    INSERT per entry, one COMMIT per feed;
  * the same with lxml (iterparse of title/link/id/description) instead of feedparser;
  * httpx conditional GET (304) + one UPDATE of the feed's row per feed.

Prints medians of ``--repeat`` runs (each on a fresh database) and the ratio
to each bare block. ``bench/peers.py`` runs the same newsroom beside
rss2email, reader and feed2exec. ``--profile first`` runs py-spy over one first poll
(needs py-spy, pip-installable) and prints where the time goes.
Not a test: figures vary with the machine; compare ratios.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# --source DIR: measure the watcher of another checkout (before a change), on the same newsroom.
SOURCE = Path(sys.argv[sys.argv.index("--source") + 1]).resolve() if "--source" in sys.argv else ROOT
sys.path[:0] = [str(SOURCE), str(ROOT / "tests")]

from datetime import datetime, timezone  # noqa: E402

import feedparser  # noqa: E402
import httpx  # noqa: E402
from lxml import etree  # noqa: E402
from newsroom import write_config  # noqa: E402
from support import REAL  # noqa: E402

from watcher import app, pipeline  # noqa: E402
from watcher import config as config_mod  # noqa: E402
from watcher.match.rules import load_rules  # noqa: E402
from watcher.store.database import Store  # noqa: E402

# Real captured news-like feeds that parse cleanly (RSS 0.9x/1.0/2.0 and Atom).
SOURCES = [
    "rss-parser/guardian.rss",
    "rss-parser/heise.atom",
    "rss-parser/reddit.rss",
    "rss-parser/reddit-home.rss",
    "rss-parser/feedburner.atom",
    "rss-parser/craigslist.rss",
    "rss-parser/customfields.rss",
    "rss-parser/encoding.rss",
    "rss-parser/atom-customfields.atom",
    "rss-parser/rss-1.rss",
    "feed-rs/atom/atom_mediarss_reddit_1.xml",
    "newsboat/rss.xml",
]
ITEMS = 20
ATOM = "{http://www.w3.org/2005/Atom}"
RSS1 = "{http://purl.org/rss/1.0/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


def clock() -> datetime:
    return datetime.now(timezone.utc)


def feed_copy(raw: bytes, n: int) -> bytes:
    """``raw`` cut to ITEMS entries, every link and id made unique to copy ``n``."""
    root = etree.fromstring(raw, etree.XMLParser(strip_cdata=False, resolve_entities=False))
    root = copy.deepcopy(root)
    items = [e for e in root.iter() if e.tag in ("item", f"{ATOM}entry", f"{RSS1}item")]
    for extra in items[ITEMS:]:
        extra.getparent().remove(extra)
    for item in items[:ITEMS]:
        for el in item.iter():
            if el.tag in ("link", "guid", f"{ATOM}id", f"{RSS1}link") and el.text and el.text.strip():
                el.text = _unique(el.text.strip(), n)
            elif el.tag == f"{ATOM}link" and el.get("href"):
                el.set("href", _unique(el.get("href"), n))
        about = item.get(f"{RDF}about")
        if about:
            item.set(f"{RDF}about", _unique(about, n))
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _unique(value: str, n: int) -> str:
    return f"{value}{'&' if '?' in value else '?'}copy={n}"


def newsroom(count: int) -> list[tuple[str, bytes]]:
    raws = [(name, (REAL / "feeds" / name).read_bytes()) for name in SOURCES]
    out = []
    for i in range(count):
        name, raw = raws[i % len(raws)]
        out.append((f"/f{i}/{Path(name).name}", feed_copy(raw, i)))
    return out


def serve(feeds: list[tuple[str, bytes]], conn) -> None:
    """In a child process: the loopback server for ``feeds``; sends its base URL, runs until told."""
    from httpserver import LoopbackServer

    with LoopbackServer() as server:
        for path, body in feeds:
            ctype = "application/atom+xml" if path.endswith(".atom") else "application/rss+xml"
            server.route(
                path,
                body=body,
                content_type=f"{ctype}; charset=utf-8",
                etag=f'"{hash(body) & 0xFFFFFFFF:x}"',
                last_modified="Mon, 07 Dec 2026 10:00:00 GMT",
            )
        conn.send(server.url("/"))
        conn.recv()


def watcher_poll(cfg: Path) -> tuple[float, float, pipeline.RunSummary]:
    """(CPU seconds of this process, wall seconds, summary) of one ``run --once``."""
    config = config_mod.load(cfg)
    parts = app.build_parts(config, clock, load_rules(list(config.rules)))
    store = Store.open(config.database)
    try:
        app.warm(parts.matcher, config)  # as `watcher run --once` does before its polls (models load)
        cpu, wall = time.process_time(), time.perf_counter()
        summary = pipeline.run_once(parts, store, lambda: Store.open(config.database))
        return time.process_time() - cpu, time.perf_counter() - wall, summary
    finally:
        parts.client.close()
        parts.extractor.close()
        store.close()


def bare_first(urls: list[str], tmp: Path, parser: str) -> tuple[float, int]:
    """(CPU seconds, entries) of GET + parse + INSERT per entry, COMMIT per feed."""
    db = sqlite3.connect(tmp / f"bare-{parser}.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute(
        "CREATE TABLE entries (id INTEGER PRIMARY KEY, feed TEXT, guid TEXT, link TEXT, title TEXT, "
        "summary TEXT, UNIQUE (feed, guid))"
    )
    n = 0
    cpu = time.process_time()
    with httpx.Client() as client:
        for url in urls:
            body = client.get(url).content
            rows = _feedparser_rows(body) if parser == "feedparser" else _lxml_rows(body)
            db.execute("BEGIN")
            for guid, link, title, summary in rows:
                db.execute(
                    "INSERT OR IGNORE INTO entries (feed, guid, link, title, summary) VALUES (?, ?, ?, ?, ?)",
                    (url, guid, link, title, summary),
                )
                n += 1
            db.execute("COMMIT")
    spent = time.process_time() - cpu
    db.close()
    return spent, n


def _feedparser_rows(body: bytes) -> list[tuple]:
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    return [
        (e.get("id") or e.get("link"), e.get("link"), e.get("title"), e.get("summary"))
        for e in parsed.entries
    ]


def _lxml_rows(body: bytes) -> list[tuple]:
    root = etree.fromstring(body)
    rows = []
    for item in root.iter("item", f"{ATOM}entry", f"{RSS1}item"):
        fields = {}
        for child in item:
            tag = child.tag.rpartition("}")[2] if isinstance(child.tag, str) else ""
            if tag == "link" and child.get("href"):
                fields.setdefault("link", child.get("href"))
            elif tag in ("title", "link", "guid", "id", "description", "summary", "content"):
                fields.setdefault(tag, child.text)
        guid = fields.get("guid") or fields.get("id") or fields.get("link")
        summary = fields.get("description") or fields.get("summary") or fields.get("content")
        rows.append((guid, fields.get("link"), fields.get("title"), summary))
    return rows


def bare_second(urls: list[str], tmp: Path) -> float:
    """CPU seconds of a conditional GET answered 304 + one UPDATE, per feed."""
    db = sqlite3.connect(tmp / "bare-304.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("CREATE TABLE feeds (url TEXT PRIMARY KEY, etag TEXT, polled TEXT)")
    validators = {}
    with httpx.Client() as client:
        for url in urls:
            r = client.get(url)
            validators[url] = r.headers.get("etag")
            db.execute("INSERT INTO feeds VALUES (?, ?, NULL)", (url, validators[url]))
        cpu = time.process_time()
        for url in urls:
            r = client.get(url, headers={"If-None-Match": validators[url]})
            assert r.status_code == 304
            db.execute("UPDATE feeds SET polled = ? WHERE url = ?", (clock().isoformat(), url))
        spent = time.process_time() - cpu
    db.close()
    return spent


def med(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", choices=["first", "second"], help="py-spy one poll instead")
    ap.add_argument("--source", type=Path, default=ROOT, help="the checkout whose watcher is measured")
    args = ap.parse_args()
    feeds = newsroom(args.feeds)
    ctx = multiprocessing.get_context("fork")  # before any thread of ours exists
    parent, child = ctx.Pipe()
    server = ctx.Process(target=serve, args=(feeds, child), daemon=True)
    server.start()
    base = parent.recv().rstrip("/")
    urls = [base + path for path, _ in feeds]
    results: dict[str, list[float]] = {k: [] for k in ("first", "second", "fp", "lxml", "304")}
    entries = 0
    try:
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as d:
                tmp = Path(d)
                cfg = write_config(
                    tmp,
                    [(f"Feed {i}", u) for i, u in enumerate(urls)],
                    fetch_article=False,
                    network="per_host = 2",
                )
                if args.profile:
                    profile(cfg, args.profile)
                    return
                cpu, wall, summary = watcher_poll(cfg)
                entries = summary.entries_new
                assert summary.articles_stored > 0.9 * entries and not summary.errors, summary
                results["first"].append(cpu / entries)
                cpu, wall, summary = watcher_poll(cfg)
                assert summary.entries_new == 0 and not summary.errors, summary
                results["second"].append(cpu / len(urls))
                spent, n = bare_first(urls, tmp, "feedparser")
                results["fp"].append(spent / n)
                spent, n = bare_first(urls, tmp, "lxml")
                results["lxml"].append(spent / n)
                results["304"].append(bare_second(urls, tmp) / len(urls))
    finally:
        parent.send("stop")
        server.join(5)
    ms = {k: med(v) * 1000 for k, v in results.items()}
    print(f"watcher from {SOURCE}")
    print(f"{len(urls)} feeds, {entries} new entries (summaries), medians of {args.repeat} runs, CPU ms:")
    print(
        f"  first poll, per new entry:   watcher {ms['first']:.3f}  | bare httpx+feedparser+sqlite "
        f"{ms['fp']:.3f} (x{ms['first'] / ms['fp']:.1f})  | bare httpx+lxml+sqlite {ms['lxml']:.3f} "
        f"(x{ms['first'] / ms['lxml']:.1f})"
    )
    print(
        f"  second poll, per 304 feed:   watcher {ms['second']:.3f}  | bare httpx 304+UPDATE "
        f"{ms['304']:.3f} (x{ms['second'] / ms['304']:.1f})"
    )
    print(
        "  runs (first, second):",
        [round(x * 1000, 3) for x in results["first"]],
        [round(x * 1000, 3) for x in results["second"]],
    )


def profile(cfg: Path, which: str) -> None:
    """py-spy over one poll (the first, or the second after an unprofiled first)."""
    if which == "second":
        watcher_poll(cfg)
    out = cfg.parent / "profile.txt"
    code = (
        f"import sys; sys.path[:0] = [{str(SOURCE)!r}, {str(ROOT / 'bench')!r}, {str(ROOT / 'tests')!r}]\n"
        "import polls; from pathlib import Path\n"
        f"polls.watcher_poll(Path({str(cfg)!r}))\n"
    )
    subprocess.run(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "-f",
            "raw",
            "-r",
            "400",
            "-o",
            str(out),
            "--",
            sys.executable,
            "-c",
            code,
        ],
        check=True,
        env={**os.environ},
    )
    summarize_profile(out)


def summarize_profile(path: Path, top: int = 45) -> None:
    """Own and inclusive sample shares per function, from py-spy's raw (collapsed) output."""
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = [
            f.split(" (")[0] + " " + f.split(" (")[-1].split(":")[0].rsplit("/", 2)[-1]
            for f in stack.split(";")
        ]
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
    print(f"{total} samples")
    print("inclusive:")
    for f, n in sorted(incl.items(), key=lambda x: -x[1])[:top]:
        print(f"  {100 * n / total:5.1f}%  {f}")
    print("own:")
    for f, n in sorted(own.items(), key=lambda x: -x[1])[:top]:
        print(f"  {100 * n / total:5.1f}%  {f}")


if __name__ == "__main__":
    main()
