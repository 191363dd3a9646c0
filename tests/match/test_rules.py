"""Rule files: every mistake is refused with the file, the rule and the key named."""

from pathlib import Path

import pytest

from watcher.match.patterns import pattern_problem, required_literal
from watcher.match.rules import Group, Leaf, Near, RulesError, load_rules

ENTITIES = """
[[entities]]
id = "sdf"
name = "Syrian Democratic Forces"
kind = "organisation"
aliases = ["SDF", "قوات سوريا الديمقراطية"]
"""


def write(tmp_path: Path, body: str, name: str = "x.toml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def problems(tmp_path: Path, body: str) -> list[str]:
    path = write(tmp_path, body)
    with pytest.raises(RulesError) as caught:
        load_rules([path])
    return [str(p) for p in caught.value.problems]


def rule(condition: str, extra: str = "") -> str:
    return (
        ENTITIES
        + f"""
[[rules]]
id = "sdf-integration"
title = "SDF integration"
severity = "high"
{extra}
condition = {condition}
"""
    )


def test_a_good_file_loads_into_a_rule_set(tmp_path):
    path = write(
        tmp_path,
        rule(
            '{ all = [{ entity = "sdf" }, { terms = ["integrat*", "merge"] }], none = [{ term = "Japan" }] }',
            'channels = ["ops"]\ntags = ["syria"]',
        ),
    )
    rules = load_rules([tmp_path])
    assert rules.files == (path,)
    (only,) = rules.rules
    assert (only.id, only.severity, only.channels, only.tags) == (
        "sdf-integration",
        "high",
        ("ops",),
        ("syria",),
    )
    assert isinstance(only.condition, Group) and only.condition.op == "all"
    assert rules.entity("sdf").aliases[0] == "Syrian Democratic Forces"


@pytest.mark.parametrize(
    "condition, key, words",
    [
        (
            '{ any = [{ entity = "sdf" }, { term = "merge" }, { regex = "(unbalanced" }] }',
            "condition.any[2].regex",
            "missing ), unterminated subpattern at position 0; fix the pattern",
        ),
        ('{ entity = "sdg" }', "condition.entity", "unknown entity 'sdg'; did you mean 'sdf'?"),
        # (a+)+b itself runs on the linear-time engine; with a lookahead it would run on
        # Python's backtracking re, and then the strict check refuses it.
        (
            '{ all = [{ entity = "sdf" }, { regex = "(?=a)(a+)+b" }] }',
            "condition.all[1].regex",
            "nested quantifier",
        ),
        (
            '{ all = [{ entity = "sdf" }, { regex = "(?<!x)(a|ab)*c" }] }',
            "condition.all[1].regex",
            "alternatives",
        ),
        (
            '{ all = [{ entity = "sdf" }, { regex = "(\\\\w+)\\\\s\\\\1" }] }',
            "condition.all[1].regex",
            "backreferences",
        ),
        ('{ all = [{ entity = "sdf" }, { regex = "x*" }] }', "condition.all[1].regex", "empty text"),
        ("{ }", "condition", "empty condition"),
        ("{ all = [] }", "condition.all", "empty condition"),
        ("{ terms = [] }", "condition.terms", "empty condition"),
        ('{ none = [{ entity = "sdf" }] }', "condition", "contains none of its terms"),
        ('{ entity = "sdf", term = "x" }', "condition", "give only one of"),
        ('{ entity = "sdf", feild = "title" }', "condition.feild", "unknown key"),
        ('{ entity = "sdf", field = "body" }', "condition.field", '"title" or "text"'),
        ('{ near = [{ entity = "sdf" }, { term = "merge" }] }', "condition", "within = N"),
        ('{ near = [{ entity = "sdf" }, { term = "merge" }], within = 0 }', "condition.within", "at least 1"),
        ('{ terms = ["a*"] }', "condition.terms[0]", "at least 3 letters"),
        ('{ terms = ["in*ter"] }', "condition.terms[0]", "only allowed at the end"),
        ('{ terms = ["--"] }', "condition.terms[0]", "no letters or digits"),
        ('{ terms = ["a", "b"], at_least = 3 }', "condition.at_least", "from 1 to 2"),
        ('"sdf"', "condition", "must be a table"),
    ],
)
def test_condition_mistakes_name_file_rule_and_key(tmp_path, condition, key, words):
    (message,) = problems(tmp_path, rule(condition))
    assert message.startswith(f"{tmp_path / 'x.toml'}: rule 'sdf-integration': {key}: ")
    assert words in message


def test_the_documented_message_shape(tmp_path):
    (message,) = problems(tmp_path, rule('{ any = [{ entity = "sdf" }, { term = "x" }, { regex = "a(b" }] }'))
    assert message == (
        f"{tmp_path / 'x.toml'}: rule 'sdf-integration': condition.any[2].regex: "
        "missing ), unterminated subpattern at position 1; fix the pattern"
    )


@pytest.mark.parametrize(
    "extra, key, words",
    [
        ('severity = "urgent"', "severity", "must be one of low, medium, high, critical"),
        ("min_hits = 0", "min_hits", "at least 1"),
        ("min_score = -1", "min_score", "at least 0"),
        ('channels = "ops"', "channels", "list of names"),
        ('colour = "red"', "colour", "unknown key"),
    ],
)
def test_rule_level_mistakes(tmp_path, extra, key, words):
    body = rule('{ entity = "sdf" }').replace('severity = "high"\n', "")
    found = problems(tmp_path, body.replace("condition =", extra + "\ncondition ="))
    assert any(
        m.startswith(f"{tmp_path / 'x.toml'}: rule 'sdf-integration': {key}: ") and words in m for m in found
    ), found


def test_duplicate_rule_ids_across_files_name_both_files(tmp_path):
    write(tmp_path, rule('{ entity = "sdf" }'), "a.toml")
    write(tmp_path, rule('{ term = "SDF" }').replace(ENTITIES, ""), "b.toml")
    with pytest.raises(RulesError) as caught:
        load_rules([tmp_path])
    (message,) = [str(p) for p in caught.value.problems]
    assert message.startswith(f"{tmp_path / 'b.toml'}: rule 'sdf-integration': id: duplicate rule id")
    assert str(tmp_path / "a.toml") in message


def test_entity_mistakes_name_the_entity(tmp_path):
    body = """
[[entities]]
id = "x"
kind = "persona"
aliases = ["ok", 3, "--"]

[[entities]]
id = "x"
name = "Again"
"""
    found = problems(tmp_path, body)
    f = tmp_path / "x.toml"
    assert (
        f"{f}: entity 'x': entities[0].kind: must be one of person, organisation, place, agreement, event, other, got 'persona'"
        in found
    )
    assert any(m.startswith(f"{f}: entity 'x': entities[0].aliases[1]: must be text") for m in found)
    assert any(m.startswith(f"{f}: entity 'x': entities[0].aliases[2]: '--' has no letters") for m in found)


def test_match_case_must_name_an_alias(tmp_path):
    body = """
[[entities]]
id = "turkey"
name = "Turkey"
kind = "place"
match_case = ["Turky"]
"""
    (message,) = problems(tmp_path, body)
    assert message == (
        f"{tmp_path / 'x.toml'}: entity 'turkey': entities[0].match_case[0]: 'Turky' is not the "
        "name or one of the aliases; list it there too"
    )


def test_every_problem_is_reported_not_just_the_first(tmp_path):
    body = (
        ENTITIES
        + """
[[rules]]
id = "one"
title = "One"
severity = "high"
condition = { entity = "nope" }

[[rules]]
id = "two"
severity = "loud"
condition = { regex = "(x+)*" }
"""
    )
    found = problems(tmp_path, body)
    assert len(found) == 4  # unknown entity; missing title; bad severity; catastrophic regex
    assert {m.split(": ")[1] for m in found} == {"rule 'one'", "rule 'two'"}


def test_toml_syntax_errors_and_missing_paths(tmp_path):
    found = problems(tmp_path, "[[rules]\nid = ")
    assert found[0].startswith(f"{tmp_path / 'x.toml'}: (file): not valid TOML")
    with pytest.raises(RulesError) as caught:
        load_rules([tmp_path / "missing.toml", tmp_path / "empty"])
    assert "not found" in str(caught.value.problems[0])


def test_empty_folder_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RulesError) as caught:
        load_rules([tmp_path / "empty"])
    assert "no *.toml rule files" in str(caught.value)


def test_disabled_rules_are_skipped(tmp_path):
    write(tmp_path, rule('{ entity = "sdf" }', "enabled = false"))
    assert load_rules([tmp_path]).rules == ()


def test_fields_are_inherited_and_near_is_parsed(tmp_path):
    write(
        tmp_path,
        rule(
            '{ all = [{ near = [{ entity = "sdf" }, { terms = ["merge"] }], within = 5 }], field = "title" }'
        ),
    )
    (only,) = load_rules([tmp_path]).rules
    near = only.condition.children[0]
    assert isinstance(near, Near) and near.within == 5
    assert all(isinstance(c, Leaf) and c.fields == ("title",) for c in near.children)


def test_unfiltered_regexes_are_warned_about(tmp_path):
    write(tmp_path, rule('{ any = [{ entity = "sdf" }, { regex = "\\\\d{4}" }] }'))
    rules = load_rules([tmp_path])
    (warning,) = rules.warnings
    assert "runs on every article" in str(warning) and "condition.any[1].regex" in str(warning)


@pytest.mark.parametrize(
    "pattern, unsafe",
    [
        (r"(a+)+$", True),
        (r"(\w+\s?)*x", True),
        (r"(a|a)*b", True),
        (r"(\d+|\w+)+", True),
        (r"(a*)*", True),
        (r"(?P<x>a)(?P=x)", True),
        (r"\bMoU\b", False),
        (r"(cat|dog)+", False),
        (r"Abu\s+[QK]asra", False),
        (r"\d{1,2} (March|Mart) 20\d\d", False),
        (r"(ab{2,3})+", False),
    ],
)
def test_catastrophic_patterns_are_recognised(pattern, unsafe):
    assert (pattern_problem(pattern) is not None) is unsafe


@pytest.mark.parametrize(
    "pattern, literal",
    [
        (r"Abu\s+[QK]asra", "asra"),
        (r"\bMemorandum of Understanding\b", "understanding"),
        (r"(?:joint|ortak) training", "training"),
        (r"\d{4}", None),
        (r"al-\w+", None),
        (r"Türkiye", "turkiye"),
    ],
)
def test_required_literal(pattern, literal):
    assert required_literal(pattern) == literal


def test_a_broken_entity_is_reported_once_not_at_every_use(tmp_path):
    body = """
[[entities]]
id = "sdf"
kind = "country"

[[rules]]
id = "uses-it"
title = "x"
severity = "low"
condition = { entity = "sdf" }
"""
    (message,) = problems(tmp_path, body)
    assert "entities[0].kind" in message


def test_a_file_named_twice_is_read_once(tmp_path):
    path = write(tmp_path, rule('{ entity = "sdf" }'))
    rules = load_rules([tmp_path, path, tmp_path / "." / "x.toml"])
    assert [r.id for r in rules.rules] == ["sdf-integration"] and rules.files == (path,)
