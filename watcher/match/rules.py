"""Rule files: loading, validating, and the rule set the matcher compiles.

The grammar is documented in ``rules/README.md``. Every problem in every
file is collected (not just the first) and reported as a
:class:`RuleProblem` that names the file, the rule or entity, the key and
the fix; :func:`load_rules` raises :class:`RulesError` with all of them.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from watcher.config import SEVERITIES
from watcher.errors import RulesError
from watcher.match import regex as rule_regex
from watcher.match.patterns import required_literal
from watcher.text.fold import normalise_term

KINDS = ("person", "organisation", "place", "agreement", "event", "other")
FIELDS = ("title", "text")
LEAF_KEYS = ("entity", "entities", "term", "terms", "regex")
GROUP_KEYS = ("all", "any", "none", "near")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_MODIFIERS = {
    "entity": {"field", "fields", "weight"},
    "entities": {"field", "fields", "weight", "at_least"},
    "term": {"field", "fields", "weight"},
    "terms": {"field", "fields", "weight", "at_least"},
    "regex": {"field", "fields", "weight", "literal"},
    "all": {"field", "fields"},
    "none": {"field", "fields"},
    "any": {"field", "fields", "at_least"},
    "near": {"field", "fields", "within", "same_sentence"},
}
MAX_NESTING = 32  # levels of groups inside groups in one condition
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
}
_ENTITY_KEYS = {"id", "name", "kind", "aliases", "exclude", "match_case", "description"}


@dataclass(frozen=True)
class RuleProblem:
    file: str
    rule: str | None
    key: str
    message: str
    entity: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.rule is not None:
            where.append(f"rule '{self.rule}'")
        if self.entity is not None:
            where.append(f"entity '{self.entity}'")
        where.append(self.key)
        return ": ".join(where + [self.message])


@dataclass(frozen=True)
class Leaf:
    """Matches entity aliases, terms (a trailing * matches a word prefix) or regexes."""

    kind: str  # 'entity' | 'term' | 'regex'
    values: tuple[str, ...]  # entity ids, terms or patterns, as written
    fields: tuple[str, ...]
    weight: float = 1.0
    at_least: int = 1  # distinct values that must be hit
    literal: str | None = None  # regex pre-filter (normalised); None: runs on every article
    path: str = "condition"


@dataclass(frozen=True)
class Group:
    op: str  # 'all' | 'any' | 'none'
    children: tuple[Node, ...]
    at_least: int = 1  # for 'any'
    path: str = "condition"


@dataclass(frozen=True)
class Near:
    children: tuple[Node, ...]
    within: int | None  # words between the first and last hit, None: no limit
    same_sentence: bool
    path: str = "condition"


Node = Leaf | Group | Near


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    kind: str
    aliases: tuple[str, ...]  # the name first, then the aliases, as written
    exclude: tuple[str, ...] = ()  # phrases whose hits cancel overlapping alias hits
    match_case: tuple[str, ...] = ()  # aliases that only match as capitalised (or in capitals)
    file: str = ""


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    condition: Node
    min_hits: int = 1
    min_score: float = 0.0
    channels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    description: str = ""
    file: str = ""


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    entities: tuple[Entity, ...]
    files: tuple[Path, ...] = ()
    warnings: tuple[RuleProblem, ...] = field(default=())

    def entity(self, entity_id: str) -> Entity | None:
        return next((e for e in self.entities if e.id == entity_id), None)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


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


def _type_name(value) -> str:
    return {
        str: "text",
        int: "a whole number",
        float: "a number",
        bool: "true/false",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


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
        if aliases is None or exclude is None or match_case is None:
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
        return Entity(eid, name, kind, tuple(everything), tuple(exclude), tuple(match_case), file)

    def _strings(self, value, fail, *, terms: bool) -> list[str] | None:
        if not isinstance(value, list):
            fail("", f'must be a list of text, e.g. ["a", "b"], got {_type_name(value)}')
            return None
        good = True
        for i, item in enumerate(value):
            problem = _term_problem(item) if terms else (None if isinstance(item, str) else "must be text")
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
        check = _RuleCheck(self, file, rid)
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
        if "condition" not in item:
            check.fail(
                "condition", 'empty condition: every rule needs one, e.g. condition = { entity = "sdf" }'
            )
            return None
        condition = check.node(item["condition"], "condition", FIELDS)
        if condition is not None and not needs_hit(condition):
            check.fail(
                "condition",
                "this condition can hold for an article that contains none of its "
                "terms (only 'none' groups); add an entity, term or regex it must contain",
            )
        if check.failed or condition is None or not enabled:
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
        )


def _term_problem(term) -> str | None:
    if not isinstance(term, str):
        return f"must be text, got {_type_name(term)}"
    body = term[:-1] if term.endswith("*") else term
    if "*" in body:
        return f"{term!r}: '*' is only allowed at the end of a term, to match word beginnings"
    normal = normalise_term(body)
    if not normal:
        return f"{term!r} has no letters or digits to match; remove it"
    if term.endswith("*") and len(normal.replace(" ", "")) < 3:
        return f"{term!r}: a prefix term needs at least 3 letters before '*'"
    return None


def _complete(nodes: list[Node | None]) -> tuple[Node, ...] | None:
    """All of ``nodes``, or None when one of them was refused (its problem is reported)."""
    present = tuple(n for n in nodes if n is not None)
    return present if len(present) == len(nodes) else None


def needs_hit(node: Node) -> bool:
    """Whether ``node`` can only hold for an article containing at least one of its terms."""
    if isinstance(node, (Leaf, Near)):
        return True
    if node.op == "none":
        return False
    if node.op == "all":
        return any(needs_hit(c) for c in node.children)
    return all(needs_hit(c) for c in node.children)


class _RuleCheck:
    """Validates one rule's condition tree, reporting problems by key path."""

    def __init__(self, loader: _Loader, file: str, rule_id: str) -> None:
        self.loader = loader
        self.file = file
        self.rule_id = rule_id
        self.failed = False

    def fail(self, key: str, message: str) -> None:
        self.failed = True
        self.loader.problems.append(RuleProblem(self.file, self.rule_id, key, message))

    def warn(self, key: str, message: str) -> None:
        self.loader.warnings.append(RuleProblem(self.file, self.rule_id, key, message))

    def node(self, raw, path: str, fields: tuple[str, ...]) -> Node | None:
        if path.count("[") > MAX_NESTING:
            self.fail(
                "condition",
                f"groups are nested more than {MAX_NESTING} levels deep; flatten "
                "them (an all inside an all, or an any inside an any, is one group)",
            )
            return None
        if not isinstance(raw, dict):
            self.fail(
                path,
                f'must be a table such as {{ entity = "sdf" }} or {{ all = [...] }}, got {_type_name(raw)}',
            )
            return None
        kinds = [k for k in LEAF_KEYS + GROUP_KEYS if k in raw]
        if not kinds:
            self.fail(path, "empty condition: give one of " + ", ".join(LEAF_KEYS + GROUP_KEYS))
            return None
        if len(kinds) > 1 and not set(kinds) <= {"all", "any", "none"}:
            self.fail(
                path,
                f"give only one of {', '.join(kinds)} per table (all, any and none may "
                "go together); wrap several in all = [...] or any = [...]",
            )
            return None
        kind = kinds[0]
        allowed = set().union(*(_MODIFIERS[k] | {k} for k in kinds))
        for unknown in sorted(set(raw) - allowed):
            self.fail(
                f"{path}.{unknown}", f"unknown key next to {kind}; allowed here: {', '.join(sorted(allowed))}"
            )
        narrowed = self.fields(raw, path, fields)
        if narrowed is None:
            return None
        if len(kinds) > 1:
            parts = _complete([self.group(raw, k, path, narrowed) for k in kinds])
            return None if parts is None else Group("all", parts, 1, path)
        if kind in GROUP_KEYS:
            return self.group(raw, kind, path, narrowed)
        return self.leaf(raw, kind, path, narrowed)

    def fields(self, raw: dict, path: str, inherited: tuple[str, ...]) -> tuple[str, ...] | None:
        if "field" in raw and "fields" in raw:
            self.fail(f"{path}.fields", "give field or fields, not both")
            return None
        value = raw.get("field", raw.get("fields"))
        if value is None:
            return inherited
        key = f"{path}.{'field' if 'field' in raw else 'fields'}"
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values or any(v not in FIELDS for v in values):
            self.fail(key, f'must be "title" or "text" (or a list of them), got {value!r}')
            return None
        narrowed = tuple(f for f in inherited if f in values)
        if not narrowed:
            self.fail(key, f"excludes every field the enclosing group allows ({', '.join(inherited)})")
            return None
        return narrowed

    def leaf(self, raw: dict, kind: str, path: str, fields: tuple[str, ...]) -> Leaf | None:
        key = f"{path}.{kind}"
        value = raw[kind]
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            self.fail(key, f"must be text or a list of text, got {_type_name(value)}")
            return None
        if not values:
            self.fail(key, f"empty condition: {kind} = [] has nothing to match; list at least one")
            return None
        weight = self.weight(raw, path)
        at_least = self.at_least(raw, path, len(values))
        good = weight is not None and at_least is not None
        literal = None
        if kind in ("entity", "entities"):
            good = self.entity_refs(values, key) and good
        elif kind in ("term", "terms"):
            for i, term in enumerate(values):
                problem = _term_problem(term)
                if problem:
                    self.fail(f"{key}[{i}]" if kind == "terms" else key, problem)
                    good = False
        else:
            if len(values) != 1:
                self.fail(key, "give one pattern per regex; use any = [{ regex = ... }, ...] for several")
                return None
            literal, ok = self.regex(raw, values[0], path)
            good = ok and good
        if not good or weight is None or at_least is None:
            return None
        normal_kind = {"entities": "entity", "terms": "term"}.get(kind, kind)
        return Leaf(normal_kind, tuple(values), fields, weight, at_least, literal, path)

    def entity_refs(self, values: list[str], key: str) -> bool:
        known = self.loader.entities
        good = True
        for i, ref in enumerate(values):
            if ref in known:
                continue
            if ref in self.loader.broken:
                good = False
                self.failed = True
                continue
            close = difflib.get_close_matches(ref, list(known) + sorted(self.loader.broken), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            self.fail(
                key if len(values) == 1 else f"{key}[{i}]",
                f"unknown entity '{ref}'; {hint}define it in an [[entities]] table "
                "(in any rule file) or fix the id",
            )
            good = False
        return good

    def regex(self, raw: dict, pattern: str, path: str) -> tuple[str | None, bool]:
        key = f"{path}.regex"
        try:
            compiled = rule_regex.compile(pattern)
        except rule_regex.RegexError as exc:
            if exc.position is not None:
                self.fail(key, f"{exc.message} at position {exc.position}; fix the pattern")
            else:
                self.fail(key, f"{exc.message}; rewrite the pattern (rules/README.md, 'Regular expressions')")
            return None, False
        if next(compiled.spans(""), None) is not None:
            self.fail(key, "the pattern can match empty text; make it require at least one character")
            return None, False
        if compiled.fallback:
            self.warn(
                key,
                f"runs on Python's backtracking re, not the linear-time engine, because it "
                f"uses {compiled.fallback}; it passed the strict check such patterns must pass",
            )
        if "literal" in raw:
            literal = raw["literal"]
            if not isinstance(literal, str) or not normalise_term(literal):
                self.fail(f"{path}.literal", "must be a word or phrase every match of the pattern contains")
                return None, False
            return normalise_term(literal), True
        literal = required_literal(pattern)
        if literal is None:
            self.warn(
                key,
                "no literal word of 3+ letters is required by this pattern, so it runs on every "
                'article; add literal = "word" (a word every match contains) to pre-filter it',
            )
        return literal, True

    def weight(self, raw: dict, path: str) -> float | None:
        weight = raw.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
            self.fail(f"{path}.weight", f"must be a number above 0, got {weight!r}")
            return None
        return float(weight)

    def at_least(self, raw: dict, path: str, count: int) -> int | None:
        value = raw.get("at_least", 1)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= count:
            self.fail(
                f"{path}.at_least",
                f"must be a whole number from 1 to {count} (the number of items listed), got {value!r}",
            )
            return None
        return value

    def group(self, raw: dict, kind: str, path: str, fields: tuple[str, ...]) -> Node | None:
        key = f"{path}.{kind}"
        items = raw[kind]
        if not isinstance(items, list):
            self.fail(key, f'must be a list of conditions, e.g. {kind} = [{{ entity = "sdf" }}]')
            return None
        if not items:
            self.fail(key, f"empty condition: {kind} = [] has nothing to match; list at least one condition")
            return None
        children = _complete([self.node(item, f"{key}[{i}]", fields) for i, item in enumerate(items)])
        if children is None:
            return None
        if kind == "near":
            return self.near(raw, key, path, children)
        at_least = self.at_least(raw, path, len(children)) if kind == "any" else 1
        if at_least is None:
            return None
        return Group(kind, children, at_least, path)

    def near(self, raw: dict, key: str, path: str, children: tuple[Node, ...]) -> Near | None:
        if len(children) < 2:
            self.fail(key, "near needs at least two conditions to bring together")
            return None
        for i, child in enumerate(children):
            if not needs_hit(child):
                self.fail(
                    f"{key}[{i}]", "a near condition cannot contain a 'none' group; put it beside the near"
                )
                return None
        within = raw.get("within")
        same = raw.get("same_sentence", False)
        if within is not None and (isinstance(within, bool) or not isinstance(within, int) or within < 1):
            self.fail(f"{path}.within", f"must be a whole number of words of at least 1, got {within!r}")
            return None
        if not isinstance(same, bool):
            self.fail(f"{path}.same_sentence", "must be true or false")
            return None
        if within is None and not same:
            self.fail(path, "near needs within = N (words) or same_sentence = true")
            return None
        return Near(children, within, same, path)
