"""Rule regexes on the linear-time engine (issue 15, item 5): catastrophic
patterns finish, Python's meaning is kept to the character on English, Turkish
and Arabic text, and `watcher check` says which patterns fall back to Python's re."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import ROOT, watcher_process

from watcher.match import regex as rule_regex
from watcher.match.matcher import Document, Matcher
from watcher.match.rules import load_rules

DATA = Path(__file__).resolve().parents[1] / "data" / "multilingual"
ENGLISH = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))[:2])
TURKISH = (DATA / "tr.txt").read_text(encoding="utf-8")
ARABIC = (DATA / "ar.txt").read_text(encoding="utf-8")


def rule_file(folder: Path, pattern: str, rule_id: str = "r") -> Path:
    folder.mkdir(exist_ok=True)
    escaped = pattern.replace("\\", "\\\\").replace('"', '\\"')
    (folder / f"{rule_id}.toml").write_text(
        f'[[rules]]\nid = "{rule_id}"\ntitle = "t"\nseverity = "low"\n'
        f'condition = {{ regex = "{escaped}" }}\n',
        encoding="utf-8",
    )
    return folder


# -- the patterns: linear time ------------------------------------------------------

WORDS = " ".join(["Damascus", "Ankara", "training", "delegation", "ministry"] * 90)  # 2,339 characters
CATASTROPHIC = [
    # (pattern, adversarial paragraph, a text it must still find)
    (r"\w+\s*\w+\s*Qasra", WORDS, "Murhaf Abu Qasra"),
    (r"a*a*a*a*a*a*a*a*a*b", "a" * 2500, "aaab"),
    (r"(a+)+b", "a" * 2500, "aab"),
    (r"(\w+\s?)*Qasra", WORDS, "Abu Qasra"),
    (r"\b\w+\s*\w+\s*Qasra\b", WORDS, "Murhaf Abu Qasra"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("pattern, paragraph, finds", CATASTROPHIC, ids=[c[0] for c in CATASTROPHIC])
def test_item05_catastrophic_regexes_run_in_linear_time(tmp_path, pattern, paragraph, finds):
    """Python's re takes 28 s (the first) to minutes on one such paragraph; the
    linear-time engine takes milliseconds, so this test would hit its timeout."""
    rules = load_rules([rule_file(tmp_path / "rules", pattern)])
    assert not [w for w in rules.warnings if "backtracking" in str(w)], "it runs on RE2, not re"
    matcher = Matcher(rules)
    # The last line holds the pre-filter word, so the regex really runs on every paragraph.
    text = "\n".join([*[paragraph] * 5, f"It was {finds} again."])
    (found,) = matcher.match(Document("d", "", text))
    assert any(finds in text[h.start : h.end] for h in found.hits)


@pytest.mark.timeout(60)
def test_item05_catastrophic_regexes_pass_check_and_run_fast_in_watcher_match(tmp_path):
    """The issue's two patterns through the command line: `watcher check` accepts
    them and `watcher match` over 2,000+ characters of adversarial text finishes."""
    for i, (pattern, *_rest) in enumerate(CATASTROPHIC[:2]):
        rule_file(tmp_path / "rules", pattern, rule_id=f"r{i}")
    config = tmp_path / "watcher.toml"
    config.write_text(f'[watcher]\nrules = ["{tmp_path / "rules"}"]\n', encoding="utf-8")
    article = tmp_path / "article.txt"
    article.write_text("Qasra\n" + WORDS + "\n" + "a" * 2500 + "\n", encoding="utf-8")
    check = watcher_process("--config", str(config), "check")
    assert check.returncode == 0, check.stderr
    match = watcher_process("match", "--rules", str(tmp_path / "rules"), str(article))
    assert "Traceback" not in match.stderr and match.returncode in (0, 1), match.stderr


# -- Python's meaning, to the character ----------------------------------------------------

PATTERNS = [
    r"\bMoU\b",
    r"\b(?:10|ten) March agreement\b",
    r"MoU (?:signed|dated) (?:on )?\d{1,2} \w+",
    r"Abu\s+[QK]asra",
    r"\w+\s*\w+\s*Qasra",
    r"T[üu]rkiye",
    r"(?-i:Türkiye)",
    r"\bSyria\w*",
    r"\bAnkara\b",
    r"\d+",
    r"\D{3}",
    r"\s+",
    r"\S+",
    r"\W+",
    r"[\w-]+",
    r"[^\w\s]+",
    r"[a-z]+",
    r"[^a-z\s]+",
    r"^\w+",
    r"\w+$",
    r"(?m)^\w+",
    r"(?s)a.c",
    r"o.u",
    r"\b\w{3}\b",
    r"\B\w{2}\b",
    r"\b\w+\B",
    r"[\W\d]+",
    r"(\bAbu\b)",
    r"\bi\w*",
    r"\bİ\w*",
    r"\bı\w*",
    r"\bISTANBUL\b",
    r"[İi]şlemci",
    r"[^i]ş",
    r"\bbios\b",
    r"\biett\b",
    r"\w+ı\b",
    r"ı+",
    r"(?-i:I)\w+",
    r"\bşampiyon\b",
    r"\bكاتب\b",
    r"محفوظ\s+\w+",
    r"\bال\w+",
    r"\w+ة\b",
    r"[ء-ي]+",
    r"(?:القاهرة|الفلسفة)",
    r"\b\d{4}\b",
    r"\b(?:Spor|spor) Kul[üu]b\w*",
    r"(?m)\w+\.$",
    r"x*?y",
    r"(?:a|b|c)+?d",
    r"\b_\w+",
    r"\b-\w+",
    r"[\u0621-\u064a]+\b",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_item05_spans_are_pythons_on_english_turkish_and_arabic_text(pattern):
    compiled = rule_regex.compile(pattern)
    assert compiled.engine == "re2", compiled.fallback
    python = re.compile(pattern, re.IGNORECASE)
    for text in (ENGLISH, TURKISH, ARABIC):
        for paragraph in text.split("\n"):
            assert list(compiled.spans(paragraph)) == [m.span() for m in python.finditer(paragraph)], (
                pattern,
                paragraph[:60],
            )


def test_item05_turkish_capitals_fold_as_pythons_re_folds_them():
    for pattern, text in [
        ("istanbul", "İSTANBUL"),
        ("bios", "BİOS"),
        ("işlemci", "İŞLEMCİ"),
        ("ılık", "ILIK"),
        ("İETT", "iett"),
    ]:
        assert [s for s in rule_regex.compile(pattern).spans(text)] == [(0, len(text))], pattern


def test_item05_offsets_stay_exact_through_the_matcher(tmp_path):
    folder = tmp_path / "rules"
    for i, pattern in enumerate([r"\bBİOS\b", r"İşlemci\w*", r"\bمحفوظ\b", r"Kul[üu]b[üu]\w*"]):
        rule_file(folder, pattern, rule_id=f"p{i}")
    matcher = Matcher(load_rules([folder]))
    text = TURKISH + "\n" + ARABIC
    found = {m.rule_id: m for m in matcher.match(Document("d", "", text))}
    assert set(found) == {"p0", "p1", "p2", "p3"}
    assert [text[h.start : h.end] for h in found["p0"].hits] == ["BİOS"]
    assert [text[h.start : h.end] for h in found["p1"].hits] == ["İşlemci", "İşlemcinin"]
    assert [text[h.start : h.end] for h in found["p2"].hits] == ["محفوظ"] * 3
    assert [text[h.start : h.end] for h in found["p3"].hits] == ["Kulübü", "Kulübü", "Kulübünde"]


# -- what falls back, and the strict check it must then pass ----------------------------------


def test_item05_check_says_which_patterns_fall_back(tmp_path):
    folder = tmp_path / "rules"
    rule_file(folder, r"(?<!Turkish )Airlines", rule_id="lookbehind")
    rule_file(folder, r"\bMoU\b", rule_id="plain")
    config = tmp_path / "watcher.toml"
    config.write_text(f'[watcher]\nrules = ["{folder}"]\n', encoding="utf-8")
    result = watcher_process("--config", str(config), "check")
    assert result.returncode == 0, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if "backtracking" in x]
    assert "lookbehind.toml" in line and "rule 'lookbehind'" in line and "condition.regex" in line
    assert "negative lookahead or lookbehind" in line
    assert "plain" not in result.stderr


@pytest.mark.parametrize(
    "pattern, words",
    [
        (r"(?<!x)\w+\s*\w+\s*Qasra", "at most 10 rounds"),
        (r"(?=a)(a+)+b", "nested quantifier"),
        (r"(\w+)\s\1", "backreferences"),
        (r"(?<=Abu )\w{0,9}\w{0,9}\w{0,9}\w{0,9}Qasra", "combinations"),
    ],
)
def test_item05_fallback_patterns_must_pass_the_strict_check(tmp_path, pattern, words):
    folder = rule_file(tmp_path / "rules", pattern)
    config = tmp_path / "watcher.toml"
    config.write_text(f'[watcher]\nrules = ["{folder}"]\n', encoding="utf-8")
    result = watcher_process("--config", str(config), "check")
    assert result.returncode == 2
    assert "condition.regex" in result.stderr and words in result.stderr
    assert "linear-time engine (RE2) lacks" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.timeout(60)
def test_item05_a_fallback_pattern_that_passed_runs_in_bounded_time():
    compiled = rule_regex.compile(r"(?<!Turkish )Airlines(?: \w{1,10}){0,3}")
    assert compiled.engine == "re" and "lookbehind" in (compiled.fallback or "")
    text = ("Airlines " * 300)[:2000]
    assert len(list(compiled.spans(text))) > 50
