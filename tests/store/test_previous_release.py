"""A database written by the release before the storage layer opens, upgrades
in place and keeps every article, story, alert and verdict (see tests/data/README.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support import rows
from support import watcher as in_process

from watcher.store.database import Store
from watcher.store.schema import MIGRATIONS

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURE = DATA / "previous_release.db"


@pytest.fixture(scope="module")
def before() -> dict[str, list[dict]]:
    """What the old release wrote, read straight from the untouched fixture."""
    return {
        "articles": rows(
            FIXTURE,
            "SELECT id, title, url, story_id, duplicate_of, join_reason, matched FROM articles ORDER BY id",
        ),
        "stories": rows(FIXTURE, "SELECT * FROM stories ORDER BY id"),
        "alerts": rows(
            FIXTURE, "SELECT id, story_id, article_id, channel, status, attempts FROM alerts ORDER BY id"
        ),
        "feedback": rows(FIXTURE, "SELECT * FROM feedback ORDER BY id"),
        "matches": rows(FIXTURE, "SELECT article_id, rule_id FROM matches ORDER BY id"),
    }


@pytest.fixture
def old(tmp_path) -> tuple[Path, Path]:
    """A copy of the old database and a config naming it."""
    database = tmp_path / "watcher.db"
    shutil.copy(FIXTURE, database)
    config = tmp_path / "watcher.toml"
    config.write_text(
        f'[watcher]\ndatabase = "{database}"\nrules = ["{DATA / "review_rules" / "v1"}"]\n', encoding="utf-8"
    )
    return database, config


def watcher(config: Path, *args: str):
    return in_process(config, *args, check=True)


def test_the_fixture_is_what_the_old_release_wrote(before):
    assert rows(FIXTURE, "PRAGMA user_version") == [{"user_version": 5}]
    assert len(before["articles"]) == 18 and len(before["stories"]) == 16
    assert {a["join_reason"] for a in before["articles"]} == {None, "similar", "content_hash"}
    assert len(before["alerts"]) == 16 and {a["status"] for a in before["alerts"]} == {"sent", "pending"}
    assert len(before["feedback"]) == 4


def test_it_opens_upgrades_and_keeps_every_row(old, before):
    database, _ = old
    store = Store.open(database)
    assert store.version == MIGRATIONS[-1].version
    store.close()
    store = Store.open(database)  # opening again changes nothing: migrations are idempotent
    assert store.version == MIGRATIONS[-1].version
    store.close()
    after = {
        "articles": rows(
            database,
            "SELECT id, title, url, story_id, duplicate_of, join_reason, matched FROM articles ORDER BY id",
        ),
        "stories": rows(database, "SELECT * FROM stories ORDER BY id"),
        "alerts": rows(
            database, "SELECT id, story_id, article_id, channel, status, attempts FROM alerts ORDER BY id"
        ),
        "feedback": rows(database, "SELECT * FROM feedback ORDER BY id"),
        "matches": rows(database, "SELECT article_id, rule_id FROM matches ORDER BY id"),
    }
    assert after == before
    assert rows(database, "PRAGMA integrity_check") == [{"integrity_check": "ok"}]


def test_log_show_alerts_and_search_read_the_old_database(old, before):
    _, config = old
    logged = [
        json.loads(line) for line in watcher(config, "log", "--json", "--limit", "100").stdout.splitlines()
    ]
    matched_stories = {a["story_id"] for a in before["articles"] if a["matched"]}
    assert {r["story_id"] for r in logged} == matched_stories
    alerts_of = {}
    for alert in before["alerts"]:
        alerts_of.setdefault(alert["story_id"], []).append(alert["status"])
    for row in logged:  # each story's alerts, as `watcher log` counts them
        assert sum(row["alerts"].values()) == len(alerts_of.get(row["story_id"], []))

    verdicts = {}
    for f in before["feedback"]:  # the newest verdict per article counts
        verdicts[f["article_id"]] = f["verdict"]
    for article in before["articles"]:
        shown = json.loads(watcher(config, "show", str(article["id"]), "--json").stdout)
        assert (shown["id"], shown["title"], shown["story_id"]) == (
            article["id"],
            article["title"] or "",
            article["story_id"],
        )
        assert shown["join_reason"] == article["join_reason"]
        assert [f["verdict"] for f in shown["feedback"]][:1] == (
            [verdicts[article["id"]]] if article["id"] in verdicts else []
        )
        text = watcher(config, "show", str(article["id"])).stdout
        assert f"#{article['id']}" in text and "Alerts:" in text

    listed = [
        json.loads(line) for line in watcher(config, "alerts", "--json", "--limit", "100").stdout.splitlines()
    ]
    assert sorted((a["id"], a["status"]) for a in listed) == [
        (a["id"], a["status"]) for a in before["alerts"]
    ]
    found = watcher(config, "search", "--json", "kasim").stdout
    assert "Türkiye ile Suriye arasında savunma işbirliği anlaşması" in found


def test_fingerprints_and_search_are_refolded_once_with_todays_folding(old) -> None:
    """The old release folded dedup's words another way: the first opening by
    this release recomputes every content hash, SimHash and search entry, so a
    copy of an old article is still found as identical text."""
    from watcher import app
    from watcher import config as config_mod
    from watcher.dedup import identity, similarity
    from watcher.text.fold import FOLD_VERSION

    database, config_path = old
    stale = [
        r
        for r in rows(database, "SELECT id, text, content_hash FROM articles")
        if r["content_hash"] != identity.content_hash(r["text"] or "")
    ]
    assert stale, "the fixture should hold hashes folded the old way"
    store = app.open_store(config_mod.load(config_path))
    store.close()
    after = rows(database, "SELECT id, text, content_hash, simhash FROM articles")
    assert all(r["content_hash"] == identity.content_hash(r["text"] or "") for r in after)
    assert all(r["simhash"] == similarity.fingerprint(r["text"] or "") for r in after)
    assert rows(database, "SELECT value FROM meta WHERE key = 'fold_version'") == [
        {"value": str(FOLD_VERSION)}
    ]
    result = watcher(config_path, "search", "--json", "al", "Sharaa")
    assert result.exit_code == 0, result.output
