"""Memory of the daemon at rest: `watcher run` over N feeds, after its first pass.

    .venv/bin/python bench/rest.py [--feeds 1000] [--settle 20] [--source DIR]

The feeds are bench/peers.py's newsroom (real captured feeds, ≤ 20 items
each, summaries only: fetch_article = false) on a loopback server in this
process. The daemon runs as a user starts it (`python -m watcher run`); once
every feed has been polled and the daemon has used no CPU for a few seconds,
this prints the resident memory (VmRSS) of the daemon and of each child
process (the extraction worker, when one runs), and the daemon's peak (VmHWM).
``--source DIR`` runs the watcher package found in DIR instead (e.g. another
checkout, to compare before and after). Not a test: figures vary with the machine.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from httpserver import LoopbackServer  # noqa: E402
from newsroom import write_config  # noqa: E402
from peers import newsroom  # noqa: E402


def status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def polled(database: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM feeds WHERE last_polled IS NOT NULL").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--settle", type=float, default=20, help="Seconds at rest before measuring.")
    ap.add_argument("--source", type=Path, default=None, help="Run the watcher package from this checkout.")
    args = ap.parse_args()
    env = {**os.environ}
    if args.source:
        env["PYTHONPATH"] = str(args.source.resolve())
    with LoopbackServer() as server, tempfile.TemporaryDirectory() as tmp:
        urls = newsroom(server, args.feeds)
        config = write_config(Path(tmp), [(f"Feed {i}", u) for i, u in enumerate(urls)], fetch_article=False)
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(config), "run", "--log-level", "WARNING"],
            env=env,
            cwd=tmp,  # not this checkout: `-m watcher` would import the package beside it first
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            while polled(Path(tmp) / "watcher.db") < args.feeds:
                if proc.poll() is not None:
                    sys.exit(f"the daemon stopped:\n{proc.stderr.read() if proc.stderr else ''}")
                time.sleep(1)
            first_pass = time.monotonic() - started
            quiet_since, last = time.monotonic(), cpu_ticks(proc.pid)
            while time.monotonic() - quiet_since < args.settle:
                time.sleep(2)
                now = cpu_ticks(proc.pid)
                if now - last > 2:  # more than 20 ms of CPU in 2 s: not at rest yet
                    quiet_since = time.monotonic()
                last = now
            daemon = status(proc.pid)
            kids = [(pid, status(pid)) for pid in children(proc.pid)]
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    print(f"{args.feeds} feeds, first pass done after {first_pass:.0f} s; at rest for {args.settle:.0f} s:")
    print(f"  daemon       RSS {daemon['VmRSS'].strip():>10}   peak {daemon['VmHWM'].strip():>10}")
    for pid, st in kids:
        print(f"  child {pid:<6} RSS {st['VmRSS'].strip():>10}   ({st['Name'].strip()})")
    if not kids:
        print("  no child process (no extraction worker running)")


if __name__ == "__main__":
    main()
