"""The watcher beside its peers on one loopback newsroom: rss2email, reader and
feed2exec, each against the bare building blocks, in the same run.

    .venv/bin/python bench/peers.py [--feeds 200] [--repeat 3] [--tools rss2email,reader,feed2exec]
                                    [--cache DIR]

The newsroom: ``--feeds`` feeds cut from real captured feeds
(../shared/fixtures/real/feeds: The Guardian, heise, reddit, Feedburner,
craigslist, ...; at most 20 items each, every link and id made unique per
feed, so every entry is new), served with ETag and Last-Modified by the
loopback server (tests/httpserver.py) in this process.

Every tool polls in a process of its own, twice, on fresh state in each repeat:
  1. first poll, every entry new: CPU per new entry;
  2. second poll, in a new process, every feed answering 304: CPU per feed.
CPU is user + system time of the polling process, all threads, taken inside it
around the poll itself: interpreter start, imports and the tool's own set-up
(adding the feeds) are not counted. Medians of ``--repeat``.

What each does with a new entry:
  watcher    `run --once` with fetch_article = false: parse (lxml, else feedparser), match the
             default rules, dedup, search index, store (SQLite)
  rss2email  `r2e run --no-send`: parse (feedparser), build the entry's email,
             keep the seen ids in its JSON data file
  reader     `update_feeds()`: parse (feedparser), store in its SQLite
  feed2exec  `feed2exec fetch` with its default output (maildir: one mail file per entry)
Bare blocks, one thread, the same feeds:
  feedparser + sqlite: httpx GET, feedparser (sanitising, URI resolution off),
             one INSERT per entry, one COMMIT per feed
  lxml + sqlite: the same with lxml (title, link, id, summary of each item)
  304 + sqlite: httpx conditional GET, one UPDATE of the feed's row

The peers are installed by this script, with pip from PyPI, each into its own
venv under ``--cache`` (default ~/.cache/watcher-bench/peers): rss2email 3.14,
reader 3.26, feed2exec 0.23.0. A tool that cannot be installed is skipped with a
message. Not a test: figures vary with the machine; compare ratios in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from httpserver import LoopbackServer  # noqa: E402
from newsroom import write_config  # noqa: E402
from polls import ITEMS, SOURCES, feed_copy  # noqa: E402  (the same newsroom as bench/polls.py)
from support import REAL  # noqa: E402

# reader's own copy of feedparser imports sgmllib, which feedparser 6.0.14 no longer pulls in.
PEERS = {
    "rss2email": ["rss2email==3.14"],
    "reader": ["reader==3.26", "sgmllib3k"],
    "feed2exec": ["feed2exec==0.23.0"],
}
# -- the newsroom --------------------------------------------------------------------------


def newsroom(server: LoopbackServer, count: int) -> list[str]:
    """Route ``count`` feeds on ``server``; their URLs."""
    raws = [(name, (REAL / "feeds" / name).read_bytes()) for name in SOURCES]
    urls = []
    for i in range(count):
        name, raw = raws[i % len(raws)]
        body = feed_copy(raw, i)
        path = f"/f{i}/{Path(name).name}"
        ctype = "application/atom+xml" if path.endswith(".atom") else "application/rss+xml"
        server.route(
            path,
            body=body,
            content_type=f"{ctype}; charset=utf-8",
            etag=f'"f{i}-{len(body)}"',
            last_modified="Mon, 07 Dec 2026 10:00:00 GMT",
        )
        urls.append(server.url(path))
    return urls


# -- the pollers: one script, run by each tool's python ------------------------------------

DRIVER = r"""
import json, os, sys, time
from pathlib import Path

tool, phase, state, urls_file = sys.argv[1:5]
state = Path(state)
urls = json.loads(Path(urls_file).read_text())
done = {}


def timed(poll):
    cpu, wall = time.process_time(), time.perf_counter()
    poll()
    done["cpu"], done["wall"] = time.process_time() - cpu, time.perf_counter() - wall


if tool == "watcher":
    from datetime import datetime, timezone
    from watcher import app, pipeline
    from watcher import config as config_mod
    from watcher.match.rules import load_rules
    from watcher.store.database import Store

    config = config_mod.load(state / "watcher.toml")
    parts = app.build_parts(config, lambda: datetime.now(timezone.utc), load_rules(list(config.rules)))
    store = app.open_store(config)
    summary = []
    timed(lambda: summary.append(pipeline.run_once(parts, store, lambda: Store.open(config.database))))
    done["entries"], done["feeds"] = summary[0].entries_new, summary[0].feeds_polled
    parts.client.close()
    parts.extractor.close()
    store.close()

elif tool == "rss2email":
    from argparse import Namespace
    from rss2email import command
    from rss2email import feeds as r2e_feeds

    feeds = r2e_feeds.Feeds(configfiles=[str(state / "r2e.cfg")], datafile_path=str(state / "r2e.json"))
    if phase == "first":
        feeds.load(require=False)
        feeds.config["DEFAULT"]["to"] = "bench@example.invalid"
        feeds.config["DEFAULT"]["same-server-fetch-interval"] = "0"
        for i, url in enumerate(urls):
            feeds.new_feed(name=f"f{i}", url=url, to="bench@example.invalid")
        feeds.save_config()
        feeds.save_feeds()
        feeds = r2e_feeds.Feeds(configfiles=[str(state / "r2e.cfg")], datafile_path=str(state / "r2e.json"))
    feeds.load(require=True)
    before = sum(len(f.seen) for f in feeds)
    timed(lambda: command.run(feeds, Namespace(index=[], send=False, clean=False)))
    done["entries"] = sum(len(f.seen) for f in feeds) - before
    done["feeds"] = len(urls)

elif tool == "reader":
    from reader import make_reader

    reader = make_reader(str(state / "reader.sqlite"))
    if phase == "first":
        for url in urls:
            reader.add_feed(url)
    before = reader.get_entry_counts().total
    timed(lambda: reader.update_feeds(scheduled=False))
    done["entries"] = reader.get_entry_counts().total - before
    done["feeds"] = len(urls)
    reader.close()

elif tool == "feed2exec":
    import sqlite3
    from feed2exec.controller import FeedManager

    conf, db = state / "feed2exec.ini", state / "feed2exec.db"
    if phase == "first":
        conf.write_text("".join(
            f"[f{i}]\nurl = {url}\noutput = feed2exec.plugins.maildir\nmailbox = {state / 'mail'}\n\n"
            for i, url in enumerate(urls)
        ))
    manager = FeedManager(str(conf), str(db))

    def seen():
        try:
            with sqlite3.connect(db) as c:
                return c.execute("SELECT count(*) FROM feedcache").fetchone()[0]
        except sqlite3.Error:
            return 0

    before = seen()
    timed(manager.fetch)
    done["entries"] = seen() - before
    done["feeds"] = len(urls)

elif tool.startswith("bare"):
    import sqlite3
    import httpx

    db = sqlite3.connect(state / "bare.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS feeds (url TEXT PRIMARY KEY, etag TEXT, modified TEXT, polled REAL)")
    db.execute("CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY, feed TEXT, guid TEXT, "
               "link TEXT, title TEXT, summary TEXT, UNIQUE (feed, guid))")
    ATOM = "{http://www.w3.org/2005/Atom}"
    RSS1 = "{http://purl.org/rss/1.0/}"

    if tool == "bare-feedparser":
        import feedparser

        def rows(body):
            parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
            return [(e.get("id") or e.get("link"), e.get("link"), e.get("title"), e.get("summary"))
                    for e in parsed.entries]
    else:
        from lxml import etree

        def rows(body):
            root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
            out = []
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
                out.append((guid, fields.get("link"), fields.get("title"), summary))
            return out

    count = [0]

    def poll():
        with httpx.Client() as client:
            for url in urls:
                known = db.execute("SELECT etag, modified FROM feeds WHERE url = ?", (url,)).fetchone()
                headers = {}
                if known and known[0]:
                    headers["If-None-Match"] = known[0]
                if known and known[1]:
                    headers["If-Modified-Since"] = known[1]
                response = client.get(url, headers=headers)
                db.execute("BEGIN")
                if response.status_code == 200:
                    for guid, link, title, summary in rows(response.content):
                        count[0] += db.execute(
                            "INSERT OR IGNORE INTO entries (feed, guid, link, title, summary) "
                            "VALUES (?, ?, ?, ?, ?)", (url, guid, link, title, summary)).rowcount
                db.execute(
                    "INSERT INTO feeds (url, etag, modified, polled) VALUES (?, ?, ?, ?) ON CONFLICT (url) "
                    "DO UPDATE SET etag = excluded.etag, modified = excluded.modified, polled = excluded.polled",
                    (url, response.headers.get("etag"), response.headers.get("last-modified"), time.time()))
                db.execute("COMMIT")

    timed(poll)
    done["entries"], done["feeds"] = count[0], len(urls)

print(json.dumps(done))
"""


def install(tool: str, cache: Path) -> Path | None:
    """The python of ``tool``'s own venv under ``cache``, installing it when missing; None
    (and a message) when it cannot be installed."""
    home = cache / tool
    python = home / "bin" / "python"
    marker = home / "installed.txt"
    wanted = " ".join(PEERS[tool])
    if marker.exists() and marker.read_text().strip() == wanted:
        return python
    print(f"installing {wanted} into {home} ...", flush=True)
    try:
        venv.create(home, with_pip=True, clear=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEERS[tool]],
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        print(f"skipping {tool}: cannot install {wanted}: {detail.strip().splitlines()[-1:]}")
        return None
    marker.write_text(wanted)
    return python


def poll(python: Path, tool: str, phase: str, state: Path, urls_file: Path, driver: Path) -> dict:
    done = subprocess.run(
        [str(python), str(driver), tool, phase, str(state), str(urls_file)],
        capture_output=True,
        text=True,
        timeout=3600,
        env={**os.environ, "PYTHONPATH": ""},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{tool} {phase} poll failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tools", default=",".join(PEERS), help="Peers to run (comma-separated).")
    ap.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "watcher-bench" / "peers",
        help="Where the peers' venvs live.",
    )
    args = ap.parse_args()
    wanted = [t for t in args.tools.split(",") if t]
    unknown = set(wanted) - set(PEERS)
    if unknown:
        sys.exit(f"unknown tools {sorted(unknown)}; known: {', '.join(PEERS)}")
    pythons: dict[str, Path] = {}
    for tool in wanted:
        python = install(tool, args.cache)
        if python:
            pythons[tool] = python
    ours = Path(sys.executable)
    runs = {
        "watcher": ours,
        **pythons,
        "bare-feedparser": ours,
        "bare-lxml": ours,
    }
    first: dict[str, list[float]] = {name: [] for name in runs}
    second: dict[str, list[float]] = {name: [] for name in runs}
    entries: dict[str, int] = {}
    with LoopbackServer() as server, tempfile.TemporaryDirectory() as tmp:
        urls = newsroom(server, args.feeds)
        urls_file = Path(tmp) / "urls.json"
        urls_file.write_text(json.dumps(urls))
        driver = Path(tmp) / "driver.py"
        driver.write_text(DRIVER)
        for r in range(args.repeat):
            for name, python in runs.items():
                state = Path(tmp) / f"{name}-{r}"
                state.mkdir()
                if name == "watcher":
                    write_config(state, [(f"Feed {i}", u) for i, u in enumerate(urls)], fetch_article=False)
                one = poll(python, name, "first", state, urls_file, driver)
                asked = len(server.requests)
                two = poll(python, name, "second", state, urls_file, driver)
                conditional = sum(
                    1
                    for q in server.requests[asked:]
                    if {"if-none-match", "if-modified-since"} & set(q.headers)
                )
                entries[name] = one["entries"]
                first[name].append(one["cpu"] / max(1, one["entries"]) * 1000)
                second[name].append(two["cpu"] / max(1, one["feeds"]) * 1000)
                if two["entries"]:
                    print(f"  note: {name}'s second poll stored {two['entries']} entries (expected none)")
                print(
                    f"  run {r + 1}: {name:<16} first poll {one['entries']:6d} new entries, "
                    f"{one['cpu']:6.2f} s CPU; second poll {two['cpu']:5.2f} s CPU "
                    f"({conditional} of {len(urls)} requests conditional)",
                    flush=True,
                )
    f = {name: statistics.median(v) for name, v in first.items()}
    s = {name: statistics.median(v) for name, v in second.items()}
    print(
        f"\n{args.feeds} feeds of real captured items (≤ {ITEMS} each), medians of {args.repeat} runs; "
        "CPU of the polling process after start-up"
    )
    print(
        f"{'':<16}{'new entries':>12}{'first poll':>14}{'× feedparser':>14}{'× lxml':>9}"
        f"{'second poll':>13}{'× 304 block':>13}"
    )
    print(f"{'':<16}{'':>12}{'ms/entry':>14}{'+ sqlite':>14}{'+ sqlite':>9}{'ms/feed':>13}{'':>13}")
    for name in runs:
        print(
            f"{name:<16}{entries[name]:>12}{f[name]:14.3f}{f[name] / f['bare-feedparser']:14.1f}"
            f"{f[name] / f['bare-lxml']:9.1f}{s[name]:13.3f}{s[name] / s['bare-feedparser']:13.1f}"
        )
    for tool in wanted:
        if tool not in pythons:
            print(f"{tool:<16}(skipped: could not be installed)")
    print("(the bare blocks' second poll is a conditional GET + one UPDATE per feed)")


if __name__ == "__main__":
    main()
