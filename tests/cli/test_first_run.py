"""What a newcomer types first: bare `watcher`, `--version`, `watcher init`,
`--config` after the command, check's warnings, and messages in plain words."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import review_world

ROOT = Path(__file__).resolve().parents[2]


def watcher(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "watcher", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


def test_bare_watcher_prints_its_help_on_many_lines_and_exits_0(tmp_path):
    out = watcher(cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Usage: watcher [OPTIONS] [COMMAND] [ARGS]...\n")
    assert "\n  init " in out.stdout and "\n  run " in out.stdout and len(out.stdout.splitlines()) > 20
    rules = watcher("rules", cwd=tmp_path)
    assert rules.returncode == 0 and rules.stdout.startswith("Usage: watcher rules [OPTIONS] COMMAND")
    assert "\n  derive " in rules.stdout


def test_version_and_python_dash_m(tmp_path):
    from watcher import __version__

    assert watcher("--version", cwd=tmp_path).stdout == f"watcher {__version__}\n"
    assert watcher("-V", cwd=tmp_path).stdout == f"watcher {__version__}\n"


def test_init_writes_a_starter_that_checks_and_never_overwrites(tmp_path):
    out = watcher("init", "site", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    site = tmp_path / "site"
    assert (site / "watcher.toml").stat().st_mode & 0o077 == 0  # private: it will hold secrets
    assert (site / "rules" / "turkey-syria-defence.toml").read_bytes() == (
        ROOT / "rules" / "turkey-syria-defence.toml"
    ).read_bytes()
    assert "watcher --config site/watcher.toml check" in out.stdout
    # --config after the command's name works as well as before it
    check = watcher("check", "--config", str(site / "watcher.toml"), cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "OK — 9 feed(s), 3 rule(s), 0 channel(s)" in check.stdout
    assert "no [[channels]]: matches are logged" in check.stderr  # a warning, not a failure
    before = (site / "watcher.toml").read_text()
    (site / "watcher.toml").write_text(before + "\n# my edits\n")
    again = watcher("init", "site", cwd=tmp_path)
    assert again.returncode == 2 and "never overwrites" in again.stderr
    assert (site / "watcher.toml").read_text().endswith("# my edits\n")
    # a folder chosen for the database by --database
    other = watcher("init", "etc", "--database", str(tmp_path / "var" / "w.db"), cwd=tmp_path)
    assert other.returncode == 0
    assert f'database = "{tmp_path / "var" / "w.db"}"' in (tmp_path / "etc" / "watcher.toml").read_text()


def test_check_warns_about_duplicate_feed_names_and_no_feeds(tmp_path):
    config = tmp_path / "watcher.toml"
    config.write_text(
        f'[watcher]\nrules = ["{ROOT / "rules"}"]\n'
        '[[feeds]]\nname = "News"\nurl = "https://a.example/feed"\n'
        '[[feeds]]\nname = "News"\nurl = "https://b.example/feed"\n'
    )
    out = watcher("--config", str(config), "check")
    assert out.returncode == 0, out.stderr
    assert "feeds[1].name: 'News' is also the name of feeds[0]" in out.stderr
    config.write_text(f'[watcher]\nrules = ["{ROOT / "rules"}"]\n')
    out = watcher("--config", str(config), "check")
    assert out.returncode == 0 and "no [[feeds]]: `watcher run` would have nothing to poll" in out.stderr


def test_messages_in_plain_words(tmp_path, tmp_path_factory):
    config = tmp_path / "watcher.toml"
    config.write_text('[network]\nmax_redirects = "five"\n')
    out = watcher("--config", str(config), "check")
    assert out.returncode == 2 and "must be an integer, got 'five'" in out.stderr
    world = review_world.shared(tmp_path_factory)
    search = review_world.invoke(world, "search", "suriye NOT istanbul", "--limit", "1")
    assert search.exit_code == 0
    nothing = review_world.invoke(world, "search", "zzzz NOT istanbul")
    assert "searched for: zzzz NOT istanbul;" in nothing.stdout


def test_log_gives_the_headline_the_room(tmp_path_factory):
    world = review_world.shared(tmp_path_factory)
    out = watcher("--config", str(world.config), "log", env={"COLUMNS": "140", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    header = out.stdout.splitlines()[0]
    rows = out.stdout.splitlines()[2:-2]
    headline = header.index("headline")
    source = header.index("source")
    assert source - headline >= 40  # at least 40 characters of headline at 140 columns
    assert max(len(r) for r in rows) <= 140


def test_serve_takes_its_password_from_a_named_variable(tmp_path_factory):
    world = review_world.shared(tmp_path_factory)
    out = watcher(
        "--config", str(world.config), "serve", "--host", "0.0.0.0", "--password-env", "NOT_SET_HERE"
    )
    assert out.returncode == 2
    assert (
        "--password-env NOT_SET_HERE: the environment variable NOT_SET_HERE is not set or empty" in out.stderr
    )


def test_log_unreviewed_leaves_out_judged_stories(tmp_path_factory):
    import json

    world = review_world.shared(tmp_path_factory).copy(tmp_path_factory.mktemp("unreviewed"))
    every = [json.loads(line) for line in review_world.invoke(world, "log", "--json").stdout.splitlines()]
    judged = every[0]["article_id"]
    assert review_world.invoke(world, "feedback", str(judged), "irrelevant").exit_code == 0
    rest = [
        json.loads(line)
        for line in review_world.invoke(world, "log", "--unreviewed", "--json").stdout.splitlines()
    ]
    assert [r["article_id"] for r in rest] == [r["article_id"] for r in every[1:]]
