"""The rule set the matcher compiles: rules, their condition trees (``Leaf``,
``Group``, ``Near``), the entities they refer to, and the problems found while
loading them (``RuleProblem``). Loading and validating is ``rules``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("person", "organisation", "place", "agreement", "event", "other")
FIELDS = ("title", "text")
LEAF_KEYS = ("entity", "entities", "term", "terms", "regex")
GROUP_KEYS = ("all", "any", "none", "near")


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


def needs_hit(node: Node) -> bool:
    """Whether ``node`` can only hold for an article containing at least one of its terms."""
    if isinstance(node, (Leaf, Near)):
        return True
    if node.op == "none":
        return False
    if node.op == "all":
        return any(needs_hit(c) for c in node.children)
    return all(needs_hit(c) for c in node.children)
