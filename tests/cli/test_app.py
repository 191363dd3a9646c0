"""The composition root (watcher/app.py), the one rules loader and the one
error tree, seen from where a user sees them: `watcher run`, `watcher feeds`,
the log, the exit code."""

from __future__ import annotations

import ast
import importlib
import inspect
import logging
import pkgutil
import re
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
from newsroom import Newsroom, write_config
from support import rows
from support import watcher as cli

import watcher
from watcher import app, errors
from watcher.cli.console import EXIT_FAILURE, EXIT_USER_ERROR, exit_code
from watcher.config import load
from watcher.daemon.lock import LockError

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "tests" / "data" / "review_rules" / "v1"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture
def outlet(server):
    room = Newsroom(server)
    room.add_seed_articles()
    return room


def rules_with_a_warning(tmp_path: Path) -> Path:
    """The review rules plus a rule whose regex has no literal to filter on."""
    folder = tmp_path / "rules"
    folder.mkdir()
    for f in RULES.glob("*.toml"):
        (folder / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "years.toml").write_text(
        '[[rules]]\nid = "years"\ntitle = "Any year"\nseverity = "low"\ncondition = { regex = "\\\\d{4}" }\n',
        encoding="utf-8",
    )
    return folder


# -- one rules loader: every command shows the rules' warnings ------------------------------


def test_run_shows_rule_warnings_as_check_does(tmp_path, outlet):
    config = write_config(
        tmp_path, [("Example News", outlet.publish())], rules=rules_with_a_warning(tmp_path)
    )
    checked = cli(config, "check")
    ran = cli(config, "run", "--once")
    assert checked.exit_code == 0 and ran.exit_code == 0, ran.output
    for result in (checked, ran):
        warnings = [
            line
            for line in result.stderr.splitlines()
            if line.startswith("watcher: warning:") and "no [[channels]]" not in line  # check's own
        ]
        assert len(warnings) == 1 and "runs on every article" in warnings[0], result.stderr
    assert "polled 1 feed(s)" in ran.stdout


def test_run_with_broken_rules_names_the_problem_and_exits_2(tmp_path, outlet):
    folder = rules_with_a_warning(tmp_path)
    (folder / "years.toml").write_text('[[rules]]\nid = "years"\n', encoding="utf-8")
    config = write_config(tmp_path, [("Example News", outlet.publish())], rules=folder)
    result = cli(config, "run", "--once")
    assert result.exit_code == EXIT_USER_ERROR
    assert result.stderr.startswith("watcher: ") and "years.toml" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "watcher.db").exists()  # nothing was started


# -- internal errors keep their traceback ----------------------------------------------------


def test_item01_a_failure_in_one_entry_is_recorded_on_it_and_the_poll_goes_on(
    tmp_path, server, outlet, caplog
):
    """A database that refuses one article (a trigger, as a damaged or hand-edited
    database might) makes that entry fail on something that is neither the
    network's nor the feed's fault: the entry keeps the error, the other entries
    are stored, the feed says so, and the entry is tried again at the next
    polls (at most three times)."""
    config_path = write_config(tmp_path, [("Example News", outlet.publish())], rules=RULES)
    config = load(config_path, environ={})
    app.open_store(config).close()
    refused = outlet.stories[1].path
    with sqlite3.connect(config.database) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON articles WHEN instr(NEW.url, ?) > 0 "
            "BEGIN SELECT RAISE(ABORT, 'articles are refused here'); END".replace("?", f"'{refused}'")
        )
    with (
        caplog.at_level(logging.ERROR, logger="watcher.pipeline"),
        app.Watcher(config, load_rules(config), utc_now) as running,
    ):
        summary = running.run_once()
    (result,) = summary.results
    assert str(result.status) == "ok" and summary.errors == 0 and result.articles_stored == 4
    assert result.outcome.entries_failed == 1
    assert "1 entry could not be stored (internal error: IntegrityError: articles are refused here)" in (
        result.outcome.warning
    )
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "failed; going on with the next one" in record.getMessage()
    assert "Traceback (most recent call last)" in caplog.text and "in _save" in caplog.text
    (entry,) = rows(tmp_path, "SELECT * FROM entries WHERE error IS NOT NULL")
    assert refused in entry["url"] and entry["article_id"] is None and entry["failures"] == 1
    assert entry["error"].startswith("internal error: IntegrityError: articles are refused here")
    feed = rows(tmp_path, "SELECT last_status, last_error, last_warning, etag FROM feeds")[0]
    assert feed["last_status"] == "ok" and feed["last_error"] is None
    assert "could not be stored" in feed["last_warning"]
    assert feed["etag"] is None  # the next poll reads the whole feed again, not a 304
    shown = cli(config_path, "feeds", "--json")
    assert "could not be stored" in shown.stdout and '"status": "ok"' in shown.stdout
    # Tried again at the next polls, three times in all; then left with its error.
    for _ in range(3):
        assert cli(config_path, "run", "--once").exit_code == 0
    assert len(server.requests_for(refused)) == 3
    (entry,) = rows(tmp_path, "SELECT * FROM entries WHERE error IS NOT NULL")
    assert entry["failures"] == 3
    assert len(rows(tmp_path, "SELECT id FROM articles")) == 4


def load_rules(config):
    from watcher.match.rules import load_rules as load

    return load(list(config.rules))


# -- the composition root ------------------------------------------------------------------


def test_one_watcher_per_database_and_closing_lets_the_next_one_in(tmp_path, outlet):
    config = load(write_config(tmp_path, [("Example News", outlet.publish())], rules=RULES), environ={})
    rules = load_rules(config)
    first = app.Watcher(config, rules, utc_now)
    try:
        with pytest.raises(LockError, match="already running"):
            app.Watcher(config, rules, utc_now)
    finally:
        first.close()
    with app.Watcher(config, rules, utc_now) as second:
        assert second.run_once().articles_stored == 5
        assert second.deliver() is None  # no channel configured


def test_a_database_path_that_cannot_work_creates_nothing(tmp_path, outlet):
    config_path = write_config(tmp_path, [("Example News", outlet.publish())], rules=RULES)
    missing = tmp_path / "no" / "such" / "folder" / "watcher.db"
    config_path.write_text(config_path.read_text().replace(str(tmp_path / "watcher.db"), str(missing)))
    config = load(config_path, environ={})
    with pytest.raises(errors.DatabaseOpenError, match="does not exist; create it"):
        app.Watcher(config, load_rules(config), utc_now)
    assert not (tmp_path / "no").exists()  # not even the lock file's folder


# -- one error tree ---------------------------------------------------------------------------


def _watcher_modules():
    for info in pkgutil.walk_packages(watcher.__path__, "watcher."):
        if info.name.endswith("__main__"):
            continue
        yield importlib.import_module(info.name)


def test_every_exception_class_of_the_watcher_is_a_watcher_error():
    found = {}
    for module in _watcher_modules():
        for _name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__.startswith("watcher.")
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    assert len(found) >= 20
    outside = sorted(name for name, cls in found.items() if not issubclass(cls, errors.WatcherError))
    assert outside == []


def test_the_documented_tree_is_the_tree():
    """The hierarchy drawn in errors.py's docstring is exactly the classes' bases."""
    drawn: dict[str, str] = {}
    parents: list[str] = []
    lines = errors.__doc__.split("The hierarchy::")[1].split("\n\n")[1].splitlines()
    margin = len(lines[0]) - len(lines[0].lstrip())
    for line in lines:
        name = re.search(r"\w+$", line).group()
        depth = (len(line) - len(line.lstrip(" │├└─")) - margin) // 4
        parents[depth:] = [name]
        if depth:
            drawn[name] = parents[depth - 1]
    public = {
        name: cls
        for name, cls in vars(errors).items()
        if inspect.isclass(cls) and issubclass(cls, errors.WatcherError) and cls is not errors.WatcherError
    }
    assert drawn.keys() == public.keys()
    for name, parent in drawn.items():
        own = [b.__name__ for b in public[name].__bases__ if issubclass(b, errors.WatcherError)]
        assert own == [parent], name


def test_user_mistakes_exit_2_and_failures_exit_1():
    assert exit_code(errors.ConfigError("watcher.toml", ["x"])) == EXIT_USER_ERROR
    assert exit_code(errors.RulesError(["x"])) == EXIT_USER_ERROR
    assert exit_code(errors.LockError("x")) == EXIT_USER_ERROR
    assert exit_code(errors.FetchError("timeout", "https://example.org/", "x")) == EXIT_FAILURE
    assert exit_code(errors.StoreError("x")) == EXIT_FAILURE


def test_errors_are_imported_where_they_were_raised_before():
    """Old imports keep working: each module re-exports the class it raises."""
    tree = ast.parse((ROOT / "watcher" / "errors.py").read_text(encoding="utf-8"))
    names = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    from watcher.config import ConfigError
    from watcher.fetch.client import FetchError
    from watcher.match.rules import RulesError
    from watcher.parse.feed import FeedError
    from watcher.store.database import StoreError

    assert {c.__name__ for c in (ConfigError, FetchError, RulesError, FeedError, StoreError)} <= names
    assert ConfigError is errors.ConfigError and StoreError is errors.StoreError
