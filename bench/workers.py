"""Full text end to end: articles fetched, extracted, matched and stored per
second, against bare trafilatura on the same pages in as many processes.

    .venv/bin/python bench/workers.py [--feeds 10] [--pages 15] [--repeat 3] [--local 1,2,4] [--remote 1,2]

The loopback newsroom: ``--feeds`` feeds of ``--pages`` distinct real news
pages each (../shared/fixtures/real/html), every page a new entry. Measured,
each on a fresh database, medians of ``--repeat`` passes of ``watcher run
--once`` (in this process), the extraction processes warmed up first as a
running daemon has them:

- local: ``[extraction] workers`` = 1, 2, 4 processes (``--local``);
- remote: 1, 2 ``watcher worker`` processes (one extraction process each)
  beside the run, through a redis-server of the bench's own on a loopback
  port (``--remote``; ``--remote 0`` skips it, as does a missing redis-server, with a message).

Each figure is printed next to bare ``trafilatura.bare_extraction`` with the
watcher's options on the same page bytes in as many processes (a
multiprocessing pool, pages already in memory: no fetch, no matching, no
storage), and the ratio of the two. The loopback newsroom runs in a process
of its own, so that serving pages is not counted as the watcher's work.

Two figures each: articles per second as measured (wall clock: on a machine
shared with other work, more processes do not get more cores), and the rate
N free cores would give, from the CPU each article cost (all the watcher's
processes, read from /proc; the watcher's own process counts at most one
core, its threads sharing the GIL): N / CPU per article, for bare trafilatura
the same. Not a test: read the ratios.
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "workers")]

from httpserver import LoopbackServer  # noqa: E402
from newsroom import REAL_PAGES, Newsroom, write_config  # noqa: E402

from watcher import app  # noqa: E402
from watcher import config as config_mod  # noqa: E402
from watcher.match.rules import load_rules  # noqa: E402

SCRAPINGHUB = ROOT.parent / "shared" / "fixtures" / "real" / "html" / "scrapinghub"


def clock() -> datetime:
    return datetime.now(timezone.utc)


def real_pages() -> list[tuple[str, bytes]]:
    pages = [(p.stem, p.read_bytes()) for p in sorted(REAL_PAGES.glob("*.html"))]
    pages += [(p.name[:16], gzip.decompress(p.read_bytes())) for p in sorted(SCRAPINGHUB.glob("*.html.gz"))]
    return pages


def _serve(conn, feeds: int, per_feed: int) -> None:
    """The newsroom's server, in a process of its own: answers each (tag,) with
    the feed URLs of a new newsroom, until None."""
    pages = real_pages()
    with LoopbackServer() as server:
        while (request := conn.recv()) is not None:
            tag, count, per = request
            conn.send(newsroom(server, pages, count, per, tag))


class Newsrooms:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, theirs = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(theirs, 0, 0), daemon=True)
        self._proc.start()

    def make(self, tag: str, feeds: int, per_feed: int) -> list[tuple[str, str]]:
        self._conn.send((tag, feeds, per_feed))
        return self._conn.recv()

    def close(self) -> None:
        self._conn.send(None)
        self._proc.join(10)

    def cpu(self) -> float:
        """The newsroom's own CPU (serving pages is not the watcher's work)."""
        return tree_cpu(self._proc.pid or 0)


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its living descendants, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                total += sum(tree_cpu(int(c)) for c in f.read().split())
    except (OSError, ValueError, IndexError):
        pass
    return total


def newsroom(server: LoopbackServer, pages: list[tuple[str, bytes]], feeds: int, per_feed: int, tag: str):
    urls = []
    for f in range(feeds):
        room = Newsroom(server)
        for p in range(per_feed):
            name, body = pages[(f * per_feed + p) % len(pages)]
            room.add(
                f"/{tag}/f{f}/{p}-{name}.html", f"Report {tag} {f}-{p}", body, summary=f"Summary {f}-{p}"
            )
        urls.append((f"Feed {tag} {f}", room.publish(f"/{tag}/f{f}/feed.xml", f"Feed {f}")))
    return urls


# -- bare trafilatura in N processes -------------------------------------------------


def _warm() -> None:
    import logging
    import warnings

    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    import trafilatura  # noqa: F401


def _bare(page: tuple[str, bytes]) -> int:
    import trafilatura

    from watcher.extract.worker import _OPTIONS

    doc = trafilatura.bare_extraction(page[1], url=f"https://example.com/{page[0]}", **_OPTIONS)
    return len((doc.text if doc is not None else "") or "")


def bare_rate(pages: list[tuple[str, bytes]], processes: int) -> tuple[float, float]:
    """(articles/s, CPU seconds per article) of bare trafilatura in ``processes``."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes, initializer=_warm) as pool:
        pool.map(_bare, pages[:processes] * 2, chunksize=1)  # every process warm
        workers = [p.pid for p in multiprocessing.active_children() if p.pid]
        cpu = sum(tree_cpu(pid) for pid in workers)
        started = time.perf_counter()
        pool.map(_bare, pages, chunksize=1)
        seconds = time.perf_counter() - started
        return len(pages) / seconds, (sum(tree_cpu(pid) for pid in workers) - cpu) / len(pages)


# -- the watcher ----------------------------------------------------------------------


@dataclass
class Measured:
    rate: float  # articles per second, wall clock
    cpu: float  # CPU seconds per article, every process of the watcher
    main_cpu: float  # of which the watcher's own process (`watcher run`)

    def on_free_cores(self, cores: int) -> float:
        return min(cores / self.cpu, 1 / self.main_cpu)


def local_rate(
    rooms: Newsrooms, tmp: Path, pages, feeds: int, per_feed: int, workers: int, tag: str
) -> Measured:
    net = "per_host = 64\nmax_connections = 4"
    cfg = write_config(tmp, rooms.make(tag, feeds, per_feed), network=net, extraction=f"workers = {workers}")
    config = config_mod.load(cfg)
    parts = app.build_parts(config, clock, load_rules(list(config.rules)))
    app.warm(parts.matcher, config)  # the language model loaded, as a running daemon has it
    try:
        from concurrent.futures import ThreadPoolExecutor

        from watcher import pipeline

        with ThreadPoolExecutor(workers) as pool:  # every extraction process started and warm
            list(
                pool.map(
                    lambda p: parts.extractor.extract(p[1], url="https://example.com/"), pages[: workers * 2]
                )
            )
        store = app.open_store(config)
        try:
            me = os.getpid()
            cpu, main_cpu = tree_cpu(me) - rooms.cpu(), _own_cpu()
            started = time.perf_counter()
            summary = pipeline.run_once(parts, store, app.store_opener(config))
            seconds = time.perf_counter() - started
            cpu, main_cpu = tree_cpu(me) - rooms.cpu() - cpu, _own_cpu() - main_cpu
        finally:
            store.close()
        n = summary.articles_stored
        assert n == feeds * per_feed, summary
        return Measured(n / seconds, cpu / n, main_cpu / n)
    finally:
        parts.extractor.close()
        parts.client.close()


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def remote_rate(
    rooms: Newsrooms, tmp: Path, pages, feeds: int, per_feed: int, count: int, redis, tag: str
) -> Measured:
    from workers_support import start, stop

    extra = f'[workers]\nbroker = "{redis.url}"\nnamespace = "bench{tag}"\nthreads = 4\n'
    net = "per_host = 64\nmax_connections = 4"
    cfg = write_config(
        tmp, rooms.make(tag, feeds, per_feed), network=net, extraction="workers = 1", extra=extra
    )
    workers = [start(cfg, tmp / f"worker{i}.log", "worker") for i in range(count)]
    try:
        from watcher.workers import observe

        deadline = time.monotonic() + 120
        config = config_mod.load(cfg)
        while len(observe.snapshot(config.workers).workers) < count:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
        warm = write_config(tmp / "warm", rooms.make(f"warm{tag}", count, 3), network=net, extra=extra)
        w = app.Watcher(config_mod.load(warm), load_rules(list(config.rules)), clock)
        try:
            w.run_once()
        finally:
            w.close()
        watcher = app.Watcher(config, load_rules(list(config.rules)), clock)
        try:
            cpu = sum(tree_cpu(p.pid) for p in workers) + _own_cpu()
            main_cpu = _own_cpu()
            started = time.perf_counter()
            summary = watcher.run_once()
            seconds = time.perf_counter() - started
            main_cpu = _own_cpu() - main_cpu
            cpu = sum(tree_cpu(p.pid) for p in workers) + _own_cpu() - cpu
        finally:
            watcher.close()
        n = summary.articles_stored
        assert n == feeds * per_feed, summary
        return Measured(n / seconds, cpu / n, main_cpu / n)
    finally:
        for proc in workers:
            stop(proc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=10)
    ap.add_argument("--pages", type=int, default=15)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--local", default="1,2,4")
    ap.add_argument("--remote", default="1,2")
    args = ap.parse_args()
    pages = real_pages()
    sample = [pages[i % len(pages)] for i in range(args.feeds * args.pages)]
    print(
        f"{args.feeds} feeds x {args.pages} new entries = {len(sample)} real pages; medians of {args.repeat}\n"
    )
    print(
        f"{'setting':34} {'watcher/s':>9} {'bare/s':>7} {'ratio':>6} | {'N free cores: watcher/s':>23} "
        f"{'bare/s':>7} {'ratio':>6} | CPU ms/article (run)"
    )
    run = 0
    rooms = Newsrooms()
    try:
        for n in [int(x) for x in args.local.split(",") if x and int(x) > 0]:
            measured = []
            for _ in range(args.repeat):
                run += 1
                with tempfile.TemporaryDirectory() as d:
                    measured.append(local_rate(rooms, Path(d), pages, args.feeds, args.pages, n, f"l{run}"))
            bare = [bare_rate(sample, n) for _ in range(args.repeat)]
            _line(f"local, {n} extraction process(es)", n, measured, bare)
        counts = [int(x) for x in args.remote.split(",") if x and int(x) > 0]
        if counts:
            from workers_support import REDIS_SERVER, RedisServer

            if not Path(REDIS_SERVER).exists():
                print("remote: skipped (no redis-server; apt-get install redis-server)")
                return 0
            with tempfile.TemporaryDirectory() as rd:
                redis = RedisServer(Path(rd))
                redis.start()
                try:
                    for n in counts:
                        measured = []
                        for _ in range(args.repeat):
                            run += 1
                            with tempfile.TemporaryDirectory() as d:
                                (Path(d) / "warm").mkdir()
                                measured.append(
                                    remote_rate(
                                        rooms, Path(d), pages, args.feeds, args.pages, n, redis, f"r{run}"
                                    )
                                )
                        bare = [bare_rate(sample, n) for _ in range(args.repeat)]
                        _line(f"{n} `watcher worker`(s) beside run", n, measured, bare)
                finally:
                    redis.kill()
    finally:
        rooms.close()
    return 0


def _line(name: str, cores: int, measured: list[Measured], bare: list[tuple[float, float]]) -> None:
    rate = statistics.median(m.rate for m in measured)
    bare_rate_ = statistics.median(b[0] for b in bare)
    free = statistics.median(m.on_free_cores(cores) for m in measured)
    bare_free = statistics.median(cores / b[1] for b in bare)
    cpu = statistics.median(m.cpu for m in measured) * 1000
    main_cpu = statistics.median(m.main_cpu for m in measured) * 1000
    print(
        f"{name:34} {rate:9.1f} {bare_rate_:7.1f} {rate / bare_rate_:6.2f} | {free:23.1f} {bare_free:7.1f} "
        f"{free / bare_free:6.2f} | {cpu:.0f} ({main_cpu:.0f})",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
