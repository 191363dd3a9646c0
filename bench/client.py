"""Cost of the guarded HTTP client on loopback, against the standard library.

    .venv/bin/python bench/client.py [--repeat 200]

Prints medians of:
  1. a small GET (4 KB feed) through watcher.client.Client (kept-alive connection)
     and through urllib.request (new connection each time), and their ratio;
  2. the same GET with an ETag answered 304;
  3. a 5 MB gzip body (decoded with caps) in MB/s of decoded output;
  4. a 1 GiB gzip bomb (1 MB on the wire) refused at a 10 MB cap: time and peak memory;
  5. how far past a 1 s total deadline a trickling / hanging server holds a fetch.
Not a test: figures vary with the machine; compare ratios between runs.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
import tracemalloc
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from httpserver import LoopbackServer, gzip_bomb  # noqa: E402

from watcher.fetch.client import Client, FetchError, NetworkPolicy  # noqa: E402

MB = 1024 * 1024


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    feed = b"<rss><channel>" + b"<item><title>x</title></item>" * 140 + b"</channel></rss>"
    big = (b"<p>Ankara and Damascus signed a defence cooperation memorandum.</p>\n" * 80000)[: 5 * MB]
    policy = NetworkPolicy(timeout=30, user_agent="bench", allow_private=("127.0.0.0/8",))
    with LoopbackServer() as server, Client(policy) as client:
        server.route("/feed", feed, etag='"v1"')
        server.route("/big", gzip.compress(big), headers={"Content-Encoding": "gzip"})
        server.route("/bomb", gzip_bomb(1024 * MB), headers={"Content-Encoding": "gzip"})
        server.route("/trickle", b"x" * 1000, trickle=0.05)
        server.route("/hang", b"x", hang="after_headers")
        url = server.url("/feed")
        ours = median_seconds(lambda: client.get(url, max_bytes=MB), args.repeat)
        stdlib = median_seconds(lambda: urllib.request.urlopen(url, timeout=30).read(), args.repeat)
        not_modified = median_seconds(lambda: client.get(url, max_bytes=MB, etag='"v1"'), args.repeat)
        big_s = median_seconds(lambda: client.get(server.url("/big"), max_bytes=10 * MB), 9)

        def bomb() -> None:
            try:
                client.get(server.url("/bomb"), max_bytes=10 * MB)
            except FetchError as exc:
                assert exc.kind == "too_large"

        bomb_s = median_seconds(bomb, 9)
        tracemalloc.start()
        bomb()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        overshoot = {}
        with Client(NetworkPolicy(timeout=1, user_agent="bench", allow_private=("127.0.0.0/8",))) as short:
            for path in ("/trickle", "/hang"):
                overshoot[path] = median_seconds(lambda: _timeout(short, server.url(path)), 5) - 1
    print(f"small GET, watcher client (keep-alive): {ours * 1e3:7.2f} ms")
    print(f"small GET, urllib (new connection):     {stdlib * 1e3:7.2f} ms   ratio {ours / stdlib:.2f}")
    print(f"304 with ETag, watcher client:          {not_modified * 1e3:7.2f} ms")
    print(
        f"5 MB gzip body:                         {big_s * 1e3:7.2f} ms   {len(big) / MB / big_s:.0f} MB/s decoded"
    )
    for path, late in overshoot.items():
        print(f"{path[1:]:8} cut at 1 s deadline, overshoot: {late * 1e3:7.2f} ms")
    print(f"1 GiB gzip bomb refused at 10 MB cap:   {bomb_s * 1e3:7.2f} ms   peak {peak / MB:.1f} MB traced")


def _timeout(client: Client, url: str) -> None:
    try:
        client.get(url, max_bytes=MB)
    except FetchError as exc:
        assert exc.kind == "timeout", exc


if __name__ == "__main__":
    main()
