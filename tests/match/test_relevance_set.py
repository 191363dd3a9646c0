"""The labelled relevance set (bench/relevance/) stays in step with its sources and the default pack."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from watcher.match.rules import load_rules

ROOT = Path(__file__).resolve().parents[2]
SET = ROOT / "bench" / "relevance" / "labelled.jsonl"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "real" / "feeds"


def _builder():
    spec = importlib.util.spec_from_file_location(
        "relevance_build", ROOT / "bench" / "relevance" / "build.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _items() -> list[dict]:
    return [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines()]


@pytest.mark.skipif(not FIXTURES.exists(), reason="needs ../shared/fixtures/real beside the project")
def test_labelled_set_is_what_the_builder_makes_from_items_seeds_and_fixtures():
    builder = _builder()
    assert builder.render(builder.build()) == SET.read_text(encoding="utf-8"), (
        "bench/relevance/labelled.jsonl is stale: run .venv/bin/python bench/relevance/build.py"
    )


def test_every_label_names_a_rule_of_the_default_pack_and_every_item_is_complete():
    rule_ids = {rule.id for rule in load_rules([ROOT / "rules"]).rules}
    items = _items()
    assert len({item["id"] for item in items}) == len(items)
    for item in items:
        assert set(item["labels"]) <= rule_ids, (
            f"{item['id']}: labels for unknown rules {set(item['labels']) - rule_ids}"
        )
        assert item["title"] or item["summary"], item["id"]
        assert item["source"] and item["kind"], item["id"]
