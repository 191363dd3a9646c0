"""Checking a rule's condition tree (rules/README.md, "Conditions") and
building its ``Leaf``/``Group``/``Near`` nodes; every problem is reported with
its key path (``condition.all[1].terms[0]``) and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path

from watcher.duration import parse_duration
from watcher.errors import DurationError
from watcher.match import regex as rule_regex
from watcher.match.patterns import required_literal
from watcher.match.references import like_references, quote
from watcher.match.ruleset import (
    FIELDS,
    GROUP_KEYS,
    LEAF_KEYS,
    Entity,
    Group,
    Leaf,
    Near,
    Node,
    Reference,
    RuleProblem,
    Similarity,
    Spread,
    needs_hit,
)
from watcher.text.fold import normalise_term
from watcher.text.language import primary

DEFAULT_MIN_SIMILARITY = 0.9  # multilingual-e5-small cosine: its scores crowd into 0.78..0.95

_MODIFIERS = {
    "entity": {"field", "fields", "weight"},
    "entities": {"field", "fields", "weight", "at_least"},
    "term": {"field", "fields", "weight"},
    "terms": {"field", "fields", "weight", "at_least"},
    "regex": {"field", "fields", "weight", "literal"},
    "language": set(),
    "all": {"field", "fields"},
    "none": {"field", "fields"},
    "any": {"field", "fields", "at_least"},
    "near": {"field", "fields", "within", "same_sentence"},
}
MAX_NESTING = 32  # levels of groups inside groups in one condition


class ConditionCheck:
    """Validates one rule's condition tree, reporting problems by key path.

    Problems and warnings are appended to the lists given; ``entities`` are
    the ids defined, ``broken`` those whose definition was refused (a
    reference to one is not reported again)."""

    def __init__(
        self,
        file: str,
        rule_id: str,
        *,
        problems: list[RuleProblem],
        warnings: list[RuleProblem],
        entities: Mapping[str, Entity],
        broken: set[str],
    ) -> None:
        self.file = file
        self.rule_id = rule_id
        self.problems = problems
        self.warnings = warnings
        self.entities = entities
        self.broken = broken
        self.failed = False

    def fail(self, key: str, message: str) -> None:
        self.failed = True
        self.problems.append(RuleProblem(self.file, self.rule_id, key, message))

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(RuleProblem(self.file, self.rule_id, key, message))

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
                f'must be a table such as {{ entity = "sdf" }} or {{ all = [...] }}, got {type_name(raw)}',
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
            self.fail(key, f"must be text or a list of text, got {type_name(value)}")
            return None
        if not values:
            self.fail(key, f"empty condition: {kind} = [] has nothing to match; list at least one")
            return None
        if kind == "language":
            return self.language(values, key, fields, path)
        weight = self.weight(raw, path)
        at_least = self.at_least(raw, path, len(values))
        good = weight is not None and at_least is not None
        literal = None
        if kind in ("entity", "entities"):
            good = self.entity_refs(values, key) and good
        elif kind in ("term", "terms"):
            for i, term in enumerate(values):
                problem = term_problem(term)
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

    def language(self, values: list[str], key: str, fields: tuple[str, ...], path: str) -> Leaf | None:
        codes = []
        for i, value in enumerate(values):
            code = primary(value)
            if code is None:
                self.fail(
                    key if len(values) == 1 else f"{key}[{i}]",
                    f"{value!r} is not a language code; write two letters as in "
                    'language = ["tr", "ar"] (ISO 639-1; "ku" or "kmr" for Kurmanji)',
                )
                return None
            codes.append(code)
        return Leaf("language", tuple(dict.fromkeys(codes)), fields, path=path)

    # --- meaning and spread -------------------------------------------------

    def similarity(self, item: dict, folder: Path) -> Similarity | None:
        keys = [k for k in ("like", "about", "unlike", "min_similarity", "gate") if k in item]
        if not keys:
            return None
        about = self._sentences(item, "about")
        unlike = self._sentences(item, "unlike")
        like = self._documents(item.get("like", []), folder)
        references = tuple(like) + tuple(
            Reference(f"about {i + 1}: {quote(text)}", text) for i, text in enumerate(about)
        )
        if not references:
            self.fail(
                keys[0],
                "min_similarity, unlike and gate need examples of what the rule is about: "
                'add like = ["examples/"] (documents or folders) or about = ["a sentence"]',
            )
            return None
        threshold = item.get("min_similarity", DEFAULT_MIN_SIMILARITY)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            self.fail(
                "min_similarity",
                f"must be a number from 0 to 1 (a cosine similarity, e.g. 0.9), got {threshold!r}",
            )
            return None
        gate = None
        if "gate" in item:
            gate = self.node(item["gate"], "gate", FIELDS)
            if gate is None:
                return None
        return Similarity(
            references,
            tuple(Reference(f"unlike {i + 1}: {quote(t)}", t) for i, t in enumerate(unlike)),
            float(threshold),
            gate,
        )

    def _sentences(self, item: dict, key: str) -> list[str]:
        value = item.get(key, [])
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            self.fail(key, f'must be a list of sentences, e.g. {key} = ["Turkey trains Syria\'s army"]')
            return []
        good = []
        for i, text in enumerate(values):
            if len(text.split()) < 2:
                self.fail(f"{key}[{i}]", f"{text!r} is too short to mean anything; write a sentence")
            else:
                good.append(" ".join(text.split()))
        return good

    def _documents(self, value, folder: Path) -> list[Reference]:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
            self.fail("like", 'must be a list of documents or folders, e.g. like = ["../seeds/"]')
            return []
        found: list[Reference] = []
        for i, raw in enumerate(values):
            key = "like" if len(values) == 1 else f"like[{i}]"
            path = Path(raw).expanduser()
            path = path if path.is_absolute() else folder / path
            refs, problem = like_references(path, raw)
            if problem:
                self.fail(key, problem)
            found.extend(refs)
        return found

    def spread(self, raw) -> Spread | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.fail("spread", 'must be a table, e.g. spread = { outlets = 5, within = "48h" }')
            return None
        for unknown in sorted(set(raw) - {"outlets", "new_language", "within"}):
            self.fail(f"spread.{unknown}", "unknown key; allowed keys are: outlets, new_language, within")
        outlets = raw.get("outlets")
        if outlets is not None and (isinstance(outlets, bool) or not isinstance(outlets, int) or outlets < 2):
            self.fail("spread.outlets", f"must be a whole number of outlets of at least 2, got {outlets!r}")
            return None
        new_language = raw.get("new_language", False)
        if not isinstance(new_language, bool):
            self.fail("spread.new_language", "must be true or false")
            return None
        if outlets is None and not new_language:
            self.fail("spread", "say when to alert again: outlets = N, new_language = true, or both")
            return None
        within = raw.get("within", "48h")
        try:
            seconds = parse_duration(within) if isinstance(within, str) else -1.0
        except DurationError:
            seconds = -1.0
        if not 0 < seconds <= 366 * 86400:
            self.fail("spread.within", f'must be a duration up to a year, e.g. "48h" or "3d", got {within!r}')
            return None
        return Spread(outlets, new_language, seconds)

    def entity_refs(self, values: list[str], key: str) -> bool:
        known = self.entities
        good = True
        for i, ref in enumerate(values):
            if ref in known:
                continue
            if ref in self.broken:
                good = False
                self.failed = True
                continue
            close = difflib.get_close_matches(ref, list(known) + sorted(self.broken), n=1)
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


def term_problem(term) -> str | None:
    if not isinstance(term, str):
        return f"must be text, got {type_name(term)}"
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


def type_name(value) -> str:
    return {
        str: "text",
        int: "a whole number",
        float: "a number",
        bool: "true/false",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
