"""How fast the CLI starts: `watcher --help`, `status`, `log` and `feeds` on a
20,000-article log, each beside the bare building block measured in the same run.

    .venv/bin/python bench/startup.py [--articles 20000] [--repeat 21] [--importtime] [--source DIR]

Every figure is a fresh process, as a user runs it (the venv's `watcher`
script); the commands and the blocks take turns, round after round, so a busy
machine slows them alike. Printed: the median wall time and the median CPU time
(user + system) of each, and the ratio to its block:

  --help  beside  python -c "import click"      (the CLI framework alone)
  status  beside  import click + the status counts through plain sqlite3
  log     beside  import click + the newest 50 matched stories through plain sqlite3
  feeds   beside  import click + the feeds table through plain sqlite3

`python -c pass` is the floor every Python program pays (with an editable
install, the venv's site hook is part of it). The warm-up run writes the .pyc
files an installed package has (PYTHONDONTWRITEBYTECODE is dropped for the runs). --importtime prints the modules
each command imports that cost the most (python -X importtime). ``--source
DIR`` runs the watcher package of another checkout (e.g. `git archive main`
unpacked in a folder), the log built by that checkout's bench/review.py: the
figures before a change.
Not a test: figures vary with the machine; compare ratios between runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WATCHER = BIN / "watcher"

# The bare blocks: what any click CLI over this database must at least do.
STATUS_SQL = """
import sqlite3, os, sys
db = sys.argv[1]
conn = sqlite3.connect(db)
out = [conn.execute("PRAGMA user_version").fetchone()[0], os.path.getsize(db)]
for table in ("feeds", "entries", "articles", "stories", "matches", "feedback"):
    out.append(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
out.append(conn.execute("SELECT count(*) FROM articles WHERE matched = 1").fetchone()[0])
out.append(conn.execute("SELECT min(fetched_at), max(fetched_at) FROM articles").fetchone())
out.append(conn.execute("SELECT status, count(*) FROM alerts GROUP BY status").fetchall())
out.append(conn.execute("SELECT max(last_polled), sum(consecutive_errors > 0) FROM feeds").fetchone())
out.append(conn.execute("SELECT value FROM meta WHERE key = 'daemon_heartbeat'").fetchone())
print(out)
"""
LOG_SQL = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
rows = conn.execute('''
    SELECT a.story_id, max(a.id), max(m.matched_at) AS seen, group_concat(DISTINCT m.rule_id),
           max(m.severity), count(DISTINCT a.feed_id), max(a.title), max(f.name)
    FROM matches m JOIN articles a ON a.id = m.article_id JOIN feeds f ON f.id = a.feed_id
    GROUP BY coalesce(a.story_id, -a.id) ORDER BY seen DESC LIMIT 50''').fetchall()
print("\\n".join(" | ".join(map(str, r)) for r in rows))
"""
FEEDS_SQL = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
rows = conn.execute('''
    SELECT f.name, f.last_status, f.last_polled, f.consecutive_errors, f.next_due, count(a.id), f.last_error
    FROM feeds f LEFT JOIN articles a ON a.feed_id = f.id GROUP BY f.id ORDER BY f.name''').fetchall()
print("\\n".join(" | ".join(map(str, r)) for r in rows))
"""


def load_review_bench(root: Path):
    """``root``/bench/review.py builds the synthetic log (seed texts, 10% matched, stories, alerts)."""
    spec = importlib.util.spec_from_file_location("review_bench", root / "bench" / "review.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_config(folder: Path, database: Path, feeds: int) -> Path:
    """A config naming the log's feeds (`feeds` lists them) and the default rules."""
    path = folder / "watcher.toml"
    tables = "".join(
        f'\n[[feeds]]\nname = "Outlet {i}"\nurl = "https://feed{i}.example/rss"\n'
        for i in range(1, feeds + 1)
    )
    path.write_text(
        f'[watcher]\ndatabase = "{database}"\nrules = ["{ROOT / "rules"}"]\n{tables}', encoding="utf-8"
    )
    path.chmod(0o600)
    return path


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall ms, CPU ms) of one run of ``argv``, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall * 1000, cpu * 1000


def importtime(argv: list[str], env: dict[str, str], cwd: Path, top: int = 12) -> list[tuple[int, str]]:
    """The ``top`` modules with the largest own import time (us) for one run."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "watcher", *argv[1:]],
        env=env,
        cwd=cwd,  # `-m watcher` must not find the package of the checkout it runs in first
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    found = re.findall(r"import time:\s+(\d+) \|\s+\d+ \|\s+(\S+)", done.stderr)
    return sorted(((int(us), name) for us, name in found), reverse=True)[:top]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=21)
    ap.add_argument("--importtime", action="store_true", help="Also show each command's costliest imports.")
    ap.add_argument("--source", type=Path, default=None, help="Run the watcher package of this checkout.")
    args = ap.parse_args()
    if not WATCHER.exists():
        sys.exit(f"no {WATCHER}: run this with the venv's python where watcher is installed")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        database = folder / "watcher.db"
        started = time.perf_counter()
        load_review_bench(args.source.resolve() if args.source else ROOT).build(database, args.articles)
        print(f"built a log of {args.articles} articles in {time.perf_counter() - started:.0f} s")
        config = write_config(folder, database, 40)
        env = {**os.environ, "WATCHER_CONFIG": str(config), "COLUMNS": "120"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: modules load from .pyc files
        if args.source:
            env["PYTHONPATH"] = str(args.source.resolve())
        py = sys.executable
        db = str(database)
        runs = {
            "watcher --help": [str(WATCHER), "--help"],
            "watcher status": [str(WATCHER), "status"],
            "watcher log": [str(WATCHER), "log"],
            "watcher feeds": [str(WATCHER), "feeds"],
            "python -c pass": [py, "-c", "pass"],
            "import click": [py, "-c", "import click"],
            "status SQL": [py, "-c", STATUS_SQL, db],
            "click + status SQL": [py, "-c", "import click\n" + STATUS_SQL, db],
            "click + log SQL": [py, "-c", "import click\n" + LOG_SQL, db],
            "click + feeds SQL": [py, "-c", "import click\n" + FEEDS_SQL, db],
        }
        for argv in runs.values():  # warm the page cache and the .pyc files
            timed(argv, env, folder)
        walls: dict[str, list[float]] = {name: [] for name in runs}
        cpus: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, argv in runs.items():
                wall, cpu = timed(argv, env, folder)
                walls[name].append(wall)
                cpus[name].append(cpu)
        wall = {name: statistics.median(v) for name, v in walls.items()}
        cpu = {name: statistics.median(v) for name, v in cpus.items()}
        pairs = [
            ("watcher --help", "import click", 100),
            ("watcher status", "click + status SQL", 150),
            ("watcher log", "click + log SQL", 150),
            ("watcher feeds", "click + feeds SQL", None),
        ]
        print(f"\nmedians of {args.repeat} runs each, fresh processes (wall ms / CPU ms)")
        print(
            f"{'command':<16}{'wall':>7}{'cpu':>7}  {'target':>6}   {'bare block':<20}{'wall':>7}{'cpu':>7}  ratio"
        )
        for name, block, target in pairs:
            print(
                f"{name:<16}{wall[name]:7.0f}{cpu[name]:7.0f}  {('≤' + str(target)) if target else '':>6}   "
                f"{block:<20}{wall[block]:7.0f}{cpu[block]:7.0f}  {wall[name] / wall[block]:4.1f}x"
            )
        for name in ("python -c pass", "status SQL"):
            print(f"{'':<16}{'':>7}{'':>7}  {'':>6}   {name:<20}{wall[name]:7.0f}{cpu[name]:7.0f}")
        if args.importtime:
            for name in ("watcher --help", "watcher status", "watcher log"):
                costly = ", ".join(f"{m} {us / 1000:.1f}" for us, m in importtime(runs[name], env, folder))
                print(f"\n{name}: costliest own import times (ms): {costly}")


if __name__ == "__main__":
    main()
