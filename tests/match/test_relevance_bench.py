"""Issue 12's measurement as a check: bench/relevance.py, run here with the real model, over the
labelled set (427 short items in six languages, with hard negatives; bench/relevance/README.md)
and the 1,689 real unrelated articles and feed entries of ../shared/fixtures/real.

Recall and precision must reach 0.95 with the similarity layer and the analyst's verdicts (the
tune part's labels as verdicts, each item assessed without its own), and the similarity layer
must add no alert on the real unrelated articles. The held-out quarter (never tuned on) is held
to what it measured, below the target: the documented figure, not a wish."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "real"


def _bench():
    spec = importlib.util.spec_from_file_location("relevance_bench", ROOT / "bench" / "relevance.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["relevance_bench"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    if not FIXTURES.exists():
        pytest.skip("needs ../shared/fixtures/real beside the project")
    bench = _bench()
    docs = bench.labelled(bench.LABELLED)
    fixtures = bench.unrelated_fixtures()
    cache = tmp_path_factory.mktemp("vectors") / "vectors.pickle"  # nothing from earlier runs
    found = bench.measure([ROOT / "rules"], docs, fixtures, cache, learn=True)
    return bench, docs, fixtures, found


def test_the_material_is_what_the_issue_asks_for(measured):
    _, docs, fixtures, _ = measured
    assert len(docs) >= 300
    assert {"en", "tr", "ar", "fr"} <= {d.language for d in docs}
    short = [d for d in docs if len(d.title) + len(d.text) <= 400]
    assert len(short) > len(docs) / 2  # most are title + one sentence, as feeds deliver them
    kinds = {d.kind for d in docs}
    assert {"collision", "other_ties", "civilian", "old_war", "paraphrase"} <= kinds
    assert len(fixtures) > 1500


def test_recall_and_precision_reach_the_target_with_meaning_and_verdicts(measured):
    _, docs, _, found = measured
    scores = found.scores("learnt", docs)
    recall, precision = scores.pop("*")  # over the pack, as issue 12 measures it
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)
    for rule, (recall, precision) in scores.items():  # each rule near it (0.946 the lowest measured)
        assert recall >= 0.95 and precision >= 0.94, (rule, recall, precision)


def test_the_similarity_layer_alone_keeps_the_target_over_all_rules(measured):
    _, docs, _, found = measured
    recall, precision = found.scores("similarity", docs)["*"]
    keywords_recall, _ = found.scores("keywords", docs)["*"]
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)
    assert recall > keywords_recall  # the layer adds what the words miss
    added = [(d.id, r) for d in docs for r in found.similarity[d.id].similar]
    assert added and all(d.labels[r] for d in docs for r in found.similarity[d.id].similar), added


def test_no_alert_on_the_real_unrelated_articles_and_none_added_by_meaning(measured):
    _, _, fixtures, found = measured
    for which in ("keywords", "similarity", "learnt"):
        verdicts = getattr(found, which)
        alerts = [(d.id, sorted(verdicts[d.id].keywords | verdicts[d.id].similar)) for d in fixtures]
        assert [a for a in alerts if a[1]] == [], which


def test_the_held_out_quarter_keeps_its_measured_level(measured):
    bench, docs, _, found = measured
    held = [d for d in docs if bench.held_out(d.id)]
    assert len(held) > 100
    recall, precision = found.scores("learnt", held)["*"]
    assert recall >= 0.88 and precision >= 0.95, (recall, precision)  # docs/relevance-evaluation.md
