"""The rule set the matcher compiles: rules, their condition trees (``Leaf``,
``Group``, ``Near``), the entities they refer to, and the problems found while
loading them (``RuleProblem``). Loading and validating is ``rules``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("person", "organisation", "place", "agreement", "event", "other")
FIELDS = ("title", "text")
LEAF_KEYS = ("entity", "entities", "term", "terms", "regex", "language")
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
    """Matches entity aliases, terms (a trailing * matches a word prefix), regexes, or the
    article's language (a filter: it holds or not, with no hit to show)."""

    kind: str  # 'entity' | 'term' | 'regex' | 'language'
    values: tuple[str, ...]  # entity ids, terms, patterns, or language codes ("tr", "ku")
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
    context: tuple[str, ...] = ()  # words that support an acronym alias (see is_acronym)
    description: str = ""


def is_acronym(alias: str) -> bool:
    """An alias written as an acronym: one word of 2 to 6 letters, all capitals ("SDF", "MİT",
    "DEAŞ"). Such a hit counts only with support in the same article (rules/README.md)."""
    letters = alias.strip()
    return (
        2 <= len(letters) <= 6
        and letters.isalpha()
        and letters.isupper()
        and " " not in letters
        and letters.upper() == letters
    )


@dataclass(frozen=True)
class Reference:
    """One example a rule is about (or not about): a sentence or a piece of a document."""

    label: str  # how an explanation names it: 'about 2', 'seeds/003-mou.txt', 'seeds/003-mou.txt ¶4'
    text: str


@dataclass(frozen=True)
class Similarity:
    """What a rule says it is about, beyond its words (``like``, ``about``, ``unlike``)."""

    references: tuple[Reference, ...]  # like + about
    unlike: tuple[Reference, ...]  # what the rule is NOT about
    min_similarity: float
    gate: Node | None  # what an article must contain before similarity may match it
    # None with a condition: one of the entities the condition names; without one: nothing


@dataclass(frozen=True)
class Spread:
    """Alert again, once, when an alerted story spreads."""

    outlets: int | None  # reported by this many outlets (feeds)
    new_language: bool  # reported in a language it had not been reported in
    within: float  # seconds after the story opened


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    condition: Node | None  # None: the rule matches by similarity alone
    min_hits: int = 1
    min_score: float = 0.0
    channels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    description: str = ""
    file: str = ""
    similarity: Similarity | None = None
    spread: Spread | None = None

    def entity_ids(self) -> tuple[str, ...]:
        """The entities the condition names (outside 'none' groups), in order."""
        return () if self.condition is None else entity_ids(self.condition)


def entity_ids(node: Node) -> tuple[str, ...]:
    """The entities ``node`` names (outside 'none' groups), in order, each once."""
    found: list[str] = []
    _entities(node, found)
    return tuple(dict.fromkeys(found))


def _entities(node: Node, found: list[str]) -> None:
    if isinstance(node, Leaf):
        if node.kind == "entity":
            found.extend(node.values)
        return
    if isinstance(node, Group) and node.op == "none":
        return
    for child in node.children:
        _entities(child, found)


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
    if isinstance(node, Leaf):
        return node.kind != "language"
    if isinstance(node, Near):
        return True
    if node.op == "none":
        return False
    if node.op == "all":
        return any(needs_hit(c) for c in node.children)
    return all(needs_hit(c) for c in node.children)
