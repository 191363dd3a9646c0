"""Rule files: loading and validating them into the ``RuleSet`` the matcher
compiles (the types are in ``ruleset``, the condition checks in ``condition``;
import them from here).

The grammar is documented in ``rules/README.md``. Every problem in every
file is collected (not just the first) and reported as a
:class:`RuleProblem` that names the file, the rule or entity, the key and
the fix; :func:`load_rules` raises :class:`RulesError` with all of them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

from watcher.config import SEVERITIES
from watcher.errors import RulesError
from watcher.match.condition import ConditionCheck, term_problem, type_name
from watcher.match.ruleset import (
    FIELDS,
    GROUP_KEYS,
    KINDS,
    LEAF_KEYS,
    Entity,
    Group,
    Leaf,
    Near,
    Node,
    Reference,
    Rule,
    RuleProblem,
    RuleSet,
    Similarity,
    Spread,
    is_acronym,
    needs_hit,
)
from watcher.text.fold import normalise_term

__all__ = [
    "FIELDS",
    "GROUP_KEYS",
    "KINDS",
    "LEAF_KEYS",
    "Entity",
    "Group",
    "Leaf",
    "Near",
    "Node",
    "Reference",
    "Rule",
    "RuleProblem",
    "RuleSet",
    "Similarity",
    "Spread",
    "is_acronym",
    "RulesError",
    "load_rules",
    "needs_hit",
    "rule_files",
]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_RULE_KEYS = {
    "id",
    "title",
    "severity",
    "condition",
    "min_hits",
    "min_score",
    "channels",
    "tags",
    "description",
    "enabled",
    "like",
    "about",
    "unlike",
    "min_similarity",
    "gate",
    "spread",
}
_ENTITY_KEYS = {"id", "name", "kind", "aliases", "exclude", "match_case", "context", "description"}


def rule_files(paths: Sequence[Path]) -> tuple[list[Path], list[RuleProblem]]:
    """The *.toml files named by ``paths`` (files, or folders read non-recursively)."""
    files, problems = [], []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found = sorted(path.glob("*.toml"))
            if not found:
                problems.append(
                    RuleProblem(
                        str(path),
                        None,
                        "(folder)",
                        "no *.toml rule files in this folder; add one or fix watcher.rules",
                    )
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(
                RuleProblem(str(path), None, "(file)", "not found; fix the path in watcher.rules or --rules")
            )
    unique, seen = [], set()
    for file in files:  # a file named twice (folder and file) is read once
        if file.resolve() not in seen:
            seen.add(file.resolve())
            unique.append(file)
    return unique, problems


def load_rules(paths: Sequence[Path]) -> RuleSet:
    """Load and validate rule files or folders of *.toml; raise RulesError listing every problem."""
    files, problems = rule_files(paths)
    raws = []
    for path in files:
        raw, problem = _read(path)
        if problem:
            problems.append(problem)
        else:
            raws.append((path, raw))
    loader = _Loader(problems)
    for path, raw in raws:
        loader.collect_entities(path, raw)
    for path, raw in raws:
        loader.collect_rules(path, raw)
    if problems:
        raise RulesError(problems)
    return RuleSet(tuple(loader.rules), tuple(loader.entities.values()), tuple(files), tuple(loader.warnings))


def _read(path: Path) -> tuple[dict, RuleProblem | None]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), None
    except tomllib.TOMLDecodeError as exc:
        return {}, RuleProblem(str(path), None, "(file)", f"not valid TOML: {exc}")
    except RecursionError:
        return {}, RuleProblem(
            str(path),
            None,
            "(file)",
            "tables or arrays are nested too deeply to read (hundreds of levels); flatten the conditions",
        )
    except (OSError, UnicodeDecodeError) as exc:
        return {}, RuleProblem(str(path), None, "(file)", f"cannot read the file: {exc}")


class _Loader:
    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        self.warnings: list[RuleProblem] = []
        self.entities: dict[str, Entity] = {}
        self.rules: list[Rule] = []
        self.rule_files: dict[str, str] = {}
        self.broken: set[str] = set()

    # --- entities -------------------------------------------------------

    def collect_entities(self, path: Path, raw: dict) -> None:
        file = str(path)
        for unknown in sorted(set(raw) - {"entities", "rules"}):
            self.problems.append(
                RuleProblem(
                    file, None, unknown, "unknown key; a rule file holds [[entities]] and [[rules]] tables"
                )
            )
        items = raw.get("entities", [])
        if not isinstance(items, list):
            self.problems.append(
                RuleProblem(
                    file, None, "entities", "must be an array of tables: write each entity as [[entities]]"
                )
            )
            return
        for i, item in enumerate(items):
            entity = self._entity(file, f"entities[{i}]", item)
            if entity is None:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    self.broken.add(item["id"])  # already reported; do not report its uses too
                continue
            if entity.id in self.entities:
                first = self.entities[entity.id].file
                self.problems.append(
                    RuleProblem(
                        file,
                        None,
                        f"entities[{i}].id",
                        f"duplicate entity id, already defined in {first}; rename one of them",
                        entity=entity.id,
                    )
                )
                continue
            self.entities[entity.id] = entity

    def _entity(self, file: str, key: str, item) -> Entity | None:
        if not isinstance(item, dict):
            self.problems.append(
                RuleProblem(file, None, key, "must be a table with id, name, kind and aliases")
            )
            return None
        eid = item.get("id")
        label = eid if isinstance(eid, str) else None

        def fail(k: str, message: str) -> None:
            self.problems.append(RuleProblem(file, None, f"{key}.{k}", message, entity=label))

        ok = True
        for unknown in sorted(set(item) - _ENTITY_KEYS):
            fail(unknown, f"unknown key; allowed keys are: {', '.join(sorted(_ENTITY_KEYS))}")
            ok = False
        if not isinstance(eid, str) or not _ID.match(eid):
            fail(
                "id", "every entity needs an id of letters, digits, '-', '_' or '.', e.g. id = \"abu-qasra\""
            )
            return None
        name = item.get("name", eid)
        if not isinstance(name, str) or not name.strip():
            fail("name", "must be the entity's usual name as text")
            ok = False
            name = eid
        kind = item.get("kind", "other")
        if kind not in KINDS:
            fail("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
            ok = False
        aliases = self._strings(item.get("aliases", []), lambda k, m: fail(f"aliases{k}", m), terms=True)
        exclude = self._strings(item.get("exclude", []), lambda k, m: fail(f"exclude{k}", m), terms=True)
        match_case = self._strings(
            item.get("match_case", []), lambda k, m: fail(f"match_case{k}", m), terms=True
        )
        context = self._strings(item.get("context", []), lambda k, m: fail(f"context{k}", m), terms=True)
        if aliases is None or exclude is None or match_case is None or context is None:
            return None
        everything = [name] + [a for a in aliases if a != name]
        for i, alias in enumerate(match_case):
            if alias not in everything:
                fail(
                    f"match_case[{i}]", f"{alias!r} is not the name or one of the aliases; list it there too"
                )
                ok = False
        if not normalise_term(name.rstrip("*")):
            everything = everything[1:]
        if not everything:
            fail("aliases", 'the entity has no alias that contains a letter or digit; add aliases = ["..."]')
            ok = False
        if not isinstance(item.get("description", ""), str):
            fail("description", "must be text")
            ok = False
        if not ok:
            return None
        return Entity(
            eid,
            name,
            kind,
            tuple(everything),
            tuple(exclude),
            tuple(match_case),
            file,
            tuple(context),
            item.get("description", ""),
        )

    def _strings(self, value, fail, *, terms: bool) -> list[str] | None:
        if not isinstance(value, list):
            fail("", f'must be a list of text, e.g. ["a", "b"], got {type_name(value)}')
            return None
        good = True
        for i, item in enumerate(value):
            problem = term_problem(item) if terms else (None if isinstance(item, str) else "must be text")
            if problem:
                fail(f"[{i}]", problem)
                good = False
        return list(value) if good else None

    # --- rules ----------------------------------------------------------

    def collect_rules(self, path: Path, raw: dict) -> None:
        file = str(path)
        items = raw.get("rules", [])
        if not isinstance(items, list):
            self.problems.append(
                RuleProblem(file, None, "rules", "must be an array of tables: write each rule as [[rules]]")
            )
            return
        for i, item in enumerate(items):
            rule = self._rule(file, i, item)
            if rule is None:
                continue
            if rule.id in self.rule_files:
                self.problems.append(
                    RuleProblem(
                        file,
                        rule.id,
                        "id",
                        f"duplicate rule id, already used in {self.rule_files[rule.id]}; "
                        "rule ids must be unique across all rule files",
                    )
                )
                continue
            self.rule_files[rule.id] = file
            self.rules.append(rule)

    def _rule(self, file: str, index: int, item) -> Rule | None:
        if not isinstance(item, dict):
            self.problems.append(
                RuleProblem(
                    file, None, f"rules[{index}]", "must be a table with id, title, severity and condition"
                )
            )
            return None
        rid = item.get("id")
        if not isinstance(rid, str) or not _ID.match(rid):
            self.problems.append(
                RuleProblem(
                    file,
                    None,
                    f"rules[{index}].id",
                    "every rule needs an id of letters, digits, '-', '_' or '.', "
                    'e.g. id = "sdf-integration"',
                )
            )
            rid = f"rules[{index}]"
        check = ConditionCheck(
            file,
            rid,
            problems=self.problems,
            warnings=self.warnings,
            entities=self.entities,
            broken=self.broken,
        )
        for unknown in sorted(set(item) - _RULE_KEYS):
            check.fail(unknown, f"unknown key; allowed keys are: {', '.join(sorted(_RULE_KEYS))}")
        title = item.get("title")
        if not isinstance(title, str) or not title.strip():
            check.fail(
                "title", 'every rule needs a title, e.g. title = "SDF integration into the Syrian army"'
            )
            title = ""
        severity = item.get("severity", "medium")
        if severity not in SEVERITIES:
            check.fail("severity", f"must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        min_hits = item.get("min_hits", 1)
        if not isinstance(min_hits, int) or isinstance(min_hits, bool) or min_hits < 1:
            check.fail("min_hits", f"must be a whole number of at least 1, got {min_hits!r}")
        min_score = item.get("min_score", 0)
        if not isinstance(min_score, (int, float)) or isinstance(min_score, bool) or min_score < 0:
            check.fail("min_score", f"must be a number of at least 0, got {min_score!r}")
        lists = {}
        for key in ("channels", "tags"):
            value = item.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                check.fail(key, f'must be a list of names, e.g. {key} = ["ops"]')
                value = []
            lists[key] = tuple(value)
        description = item.get("description", "")
        if not isinstance(description, str):
            check.fail("description", "must be text")
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            check.fail("enabled", "must be true or false")
        similarity = check.similarity(item, Path(file).parent)
        spread = check.spread(item.get("spread"))
        if "condition" not in item and not (similarity and similarity.references):
            check.fail(
                "condition",
                'empty condition: every rule needs one, e.g. condition = { entity = "sdf" } '
                '(or, to match by meaning alone, like = ["examples/"] or about = ["..."])',
            )
            return None
        condition = check.node(item["condition"], "condition", FIELDS) if "condition" in item else None
        if condition is not None and not needs_hit(condition):
            check.fail(
                "condition",
                "this condition can hold for an article that contains none of its "
                "terms (only 'none' groups or a language); add an entity, term or regex it must contain",
            )
        if check.failed or (condition is None and "condition" in item) or not enabled:
            return None
        return Rule(
            rid,
            title.strip(),
            severity,
            condition,
            min_hits,
            float(min_score),
            lists["channels"],
            lists["tags"],
            description,
            file,
            similarity,
            spread,
        )
