"""Builds tests/data/previous_release.db with the release before the storage
layer (commit 8f5d8c0): the review world's real ``watcher run --once`` against
loopback outlets, then a few verdicts through ``watcher feedback``.

Run from a checkout of that commit, with ../shared beside it:

    git worktree add --detach /tmp/old 8f5d8c0 && ln -sfn "$PWD/../shared" /tmp/shared
    cd /tmp/old && PYTHONPATH=/tmp/old:/tmp/old/tests python \\
        /path/to/tests/data/make_previous_release.py /path/to/tests/data/previous_release.db
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

import review_world                     # the old checkout's tests/review_world.py
from click.testing import CliRunner

from watcher.cli import main            # the old layout: watcher/cli.py


def build(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        world = review_world.build(Path(tmp) / "world")
        db = sqlite3.connect(world.database)
        first, second, third = (r[0] for r in db.execute(
            "SELECT id FROM articles WHERE matched = 1 ORDER BY id LIMIT 3"))
        db.close()
        for args in ((str(first), "relevant", "--note", "the pact itself"),
                     (str(second), "irrelevant"),
                     (str(second), "relevant", "--note", "changed my mind"),
                     (str(third), "irrelevant", "--note", "not what I follow")):
            result = CliRunner().invoke(main, ["--config", str(world.config), "feedback", *args])
            assert result.exit_code == 0, result.output
        db = sqlite3.connect(world.database)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("VACUUM")
        db.close()
        shutil.copy(world.database, out)


if __name__ == "__main__":
    build(Path(sys.argv[1]))
