"""`watcher backtest`: the configured or a candidate rule set over stored articles."""

from __future__ import annotations

import hashlib
import json
import sqlite3

from review_world import RULES_V1, RULES_V2, invoke

from watcher.match.matcher import Matcher
from watcher.match.rules import load_rules
from watcher.review import backtest
from watcher.store.database import Store


def report_json(world, *args) -> dict:
    result = invoke(world, "backtest", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def logged(world) -> dict[str, set[int]]:
    with sqlite3.connect(world.database) as conn:
        out: dict[str, set[int]] = {}
        for article_id, rule_id in conn.execute("SELECT article_id, rule_id FROM matches"):
            out.setdefault(rule_id, set()).add(article_id)
        return out


def test_the_configured_rules_reproduce_the_log(world):
    report = report_json(world)
    with sqlite3.connect(world.database) as conn:
        assert report["articles"] == conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    assert report["new_total"] == 0 and report["lost_total"] == 0
    assert {r["rule_id"]: r["after"] for r in report["rules"]} == {
        k: len(v) for k, v in logged(world).items()
    }


def test_a_candidate_rule_set_reports_new_and_lost_hits_per_rule(world):
    report = report_json(world, "--rules", str(RULES_V2), "--examples", "50")
    rules = {r["rule_id"]: r for r in report["rules"]}
    log = logged(world)
    assert rules["drones"]["before"] == len(log["drones"]) > 0
    assert rules["drones"]["after"] == 0 and rules["drones"]["lost"] == len(log["drones"])
    assert rules["training"]["before"] == 0 and rules["training"]["new"] == rules["training"]["after"] > 0
    assert rules["tr-sy-defence"]["new"] == rules["tr-sy-defence"]["lost"] == 0
    assert rules["football"]["after"] == rules["football"]["before"]
    new_titles = {c["title"] for c in report["new"] if c["rule_id"] == "training"}
    assert "İstanbul'da Suriyeli subaylar için askeri eğitim programı" in new_titles
    assert "تركيا وسوريا توقعان اتفاقية للتعاون الدفاعي" in new_titles
    assert {c["article_id"] for c in report["lost"]} == log["drones"]


def test_the_table_names_each_change(world):
    result = invoke(world, "backtest", "--rules", str(RULES_V2))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "matching stored articles" in result.stderr  # the progress bar, off stdout
    assert "would match now" in out
    assert "New hits:" in out and "Lost hits:" in out
    drones = next(line for line in out.splitlines() if line.startswith("drones"))
    assert "-" + str(len(logged(world)["drones"])) in drones


def test_nothing_is_written_or_sent(world):
    digest = hashlib.sha256(world.database.read_bytes()).hexdigest()
    with sqlite3.connect(world.database) as conn:
        before = [
            conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("matches", "alerts", "stories")
        ]
    assert invoke(world, "backtest", "--rules", str(RULES_V2)).exit_code == 0
    with sqlite3.connect(world.database) as conn:
        after = [
            conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("matches", "alerts", "stories")
        ]
    assert after == before
    assert hashlib.sha256(world.database.read_bytes()).hexdigest() == digest


def test_since_limits_the_articles_scanned(world):
    assert report_json(world, "--since", "2d")["articles"] > 0
    assert report_json(world, "--since", "2999-01-01")["articles"] == 0


def test_a_broken_candidate_is_refused_naming_the_file(world, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nid = "x"\ntitle = "X"\nseverity = "urgent"\ncondition = { term = "a" }\n')
    result = invoke(world, "backtest", "--rules", str(bad))
    assert result.exit_code == 2
    assert "bad.toml" in result.stderr and "severity" in result.stderr


def test_progress_is_reported_for_every_article(world, monkeypatch):
    monkeypatch.setattr(backtest, "BATCH", 3)
    store = Store.open(world.database)
    seen = []
    report = backtest.run(store, Matcher(load_rules([RULES_V1])), progress=seen.append)
    assert sum(seen) == report.articles == backtest.count(store)
    assert max(seen) <= 3
    store.close()


def test_a_candidate_rule_that_matches_nothing_is_listed(world, tmp_path):
    (tmp_path / "entities.toml").write_text(
        (RULES_V2 / "entities.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "rules.toml").write_text(
        '[[rules]]\nid = "navy"\ntitle = "Naval cooperation"\nseverity = "low"\n'
        'condition = { all = [ { entity = "syria" }, { terms = ["frigate", "corvette"] } ] }\n',
        encoding="utf-8",
    )
    report = report_json(world, "--rules", str(tmp_path))
    navy = next(r for r in report["rules"] if r["rule_id"] == "navy")
    assert (navy["before"], navy["after"], navy["new"], navy["lost"]) == (0, 0, 0, 0)
    assert (
        report["matched_after"] == 0
        and report["lost_total"] == sum(len(v) for v in logged(world).values()) > 0
    )
